// Package copier copies snapshots' data from one repository to another for
// the copy command: the blobs of a tree and everything below it that the
// destination lacks, and the test of whether a snapshot was copied before.
//
// It walks trees itself, so it is not part of repository, which knows
// blobs but not what trees mean.
package copier

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// Copied reports whether have, a snapshot of the destination, is a copy of
// s: it names s or s's original as its original, or it has the same tree,
// time, host and paths.
func Copied(have, s *snapshot.Snapshot) bool {
	if have.Original != nil && s.Original != nil && *have.Original == *s.Original {
		return true
	}
	if have.Original != nil && *have.Original == s.ID {
		return true
	}
	return have.Tree != nil && s.Tree != nil && *have.Tree == *s.Tree && have.Time.Equal(s.Time) && have.Hostname == s.Hostname && slices.Equal(have.Paths, s.Paths)
}

// Copier copies the blobs of trees from src to dst. The indexes of both
// must be loaded and dst must be writing ([repository.Repository.StartWriting]).
// A Copier is not safe for concurrent use, except for Blobs and Bytes,
// which a progress display may call while it copies.
type Copier struct {
	src, dst *repository.Repository
	seen     id.Set // trees already copied (or present)
	blobs    atomic.Uint64
	bytes    atomic.Uint64
}

// New returns a Copier from src to dst.
func New(src, dst *repository.Repository) *Copier {
	return &Copier{src: src, dst: dst, seen: id.NewSet()}
}

// Blobs is the number of blobs copied so far that dst did not have.
func (c *Copier) Blobs() int { return int(c.blobs.Load()) }

// Bytes is the size of those blobs (uncompressed).
func (c *Copier) Bytes() uint64 { return c.bytes.Load() }

// LoadBlob loads the blob h from src and saves it in dst if dst lacks it;
// it makes the Copier a [walker.Loader] that copies what it loads.
func (c *Copier) LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error) {
	buf, err := c.src.LoadBlob(ctx, h)
	if err != nil {
		return nil, err
	}
	if !c.dst.HasBlob(h) {
		if _, known, _, err := c.dst.SaveBlob(ctx, h.Type, buf, h.ID); err != nil {
			return nil, err
		} else if !known {
			c.blobs.Add(1)
			c.bytes.Add(uint64(len(buf)))
		}
	}
	return buf, nil
}

// CopyTree copies the tree tid and every tree and data blob below it that
// dst lacks. Trees copied before by this Copier are skipped.
func (c *Copier) CopyTree(ctx context.Context, tid id.ID) error {
	if c.seen.Has(tid) {
		return nil
	}
	c.seen.Insert(tid)
	t, err := walker.LoadTree(ctx, c, tid)
	if err != nil {
		return err
	}
	for _, n := range t.Nodes {
		switch {
		case n.Type == tree.TypeDir && n.Subtree != nil:
			if err := c.CopyTree(ctx, *n.Subtree); err != nil {
				return err
			}
		case n.Type == tree.TypeFile:
			for _, d := range n.Content {
				h := blob.Handle{ID: d, Type: blob.Data}
				if c.dst.HasBlob(h) {
					continue
				}
				if _, err := c.LoadBlob(ctx, h); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
