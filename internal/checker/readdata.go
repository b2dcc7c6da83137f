package checker

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"golang.org/x/sync/errgroup"
)

// ReadPacks reads the given packs in full, concurrently: a pack that
// cannot be read, whose bytes do not hash to its name, whose header is
// unusable (unless Packs already said so) or that holds a blob which does
// not decrypt, decompress or hash to its ID is an error, with the blob
// named. done, if not nil, is called after each pack. The error is ctx's.
func (c *Checker) ReadPacks(ctx context.Context, packs []id.ID, done func()) error {
	packs = slices.Clone(packs)
	slices.SortFunc(packs, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, c.repo.Connections()))
	for _, pid := range packs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			c.readPack(gctx, pid)
			if done != nil {
				done()
			}
			return nil
		})
	}
	_ = g.Wait()
	return ctx.Err()
}

func (c *Checker) readPack(ctx context.Context, pid id.ID) {
	rep, err := c.repo.ReadPack(ctx, pid, c.idx.PackBlobs(pid))
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if errors.Is(err, backend.ErrNotExist) {
			c.errorf(packObject(pid), "does not exist")
			return
		}
		c.errorf(packObject(pid), "cannot read: %v", err)
		return
	}
	if rep.Hash != pid || rep.HeaderErr != nil || len(rep.BadBlobs) > 0 {
		c.markBroken(pid)
	}
	if rep.Hash != pid {
		c.errorf(packObject(pid), "content does not match its name: it hashes to %v", rep.Hash)
	}
	if rep.HeaderErr != nil && !c.badHeader.Has(pid) {
		c.errorf(packObject(pid), "header: %v", rep.HeaderErr)
	}
	for _, b := range rep.BadBlobs {
		c.errorf(packObject(pid), "%v blob %v (offset %d, length %d) is damaged: %v", b.Blob.Handle.Type, b.Blob.Handle.ID, b.Blob.Offset, b.Blob.Length, b.Err)
	}
}
