package repository

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// FindPacks resolves pack IDs or ID prefixes to the packs of the
// repository they name. A full ID of a pack that is not there is taken as
// it is (the index may still list it).
func (r *Repository) FindPacks(ctx context.Context, refs []string) (id.Set, error) {
	packs := id.NewSet()
	for _, a := range refs {
		pid, err := Find(ctx, r.be, backend.PackFile, a)
		if err != nil && !errors.Is(err, backend.ErrNotExist) {
			return nil, err
		}
		if err != nil {
			if pid, err = id.Parse(a); err != nil {
				return nil, fmt.Errorf("pack %q: %w", a, err)
			}
		}
		packs.Insert(pid)
	}
	return packs, nil
}

// SalvagePacks copies the blobs of the damaged packs that still decrypt
// and verify into new packs, then writes an index without the damaged
// packs, removes the old index files and the damaged packs, in this order
// so that an interruption leaves a valid repository. lost is called for
// every blob that could not be saved, as soon as that is known. It returns
// the number of blobs saved and lost.
func (r *Repository) SalvagePacks(ctx context.Context, damaged id.Set, lost func(pack id.ID, h blob.Handle)) (saved, nlost int, err error) {
	pi, err := r.LoadPruneIndex(ctx)
	if err != nil {
		return 0, 0, err
	}
	var keep, bad []IndexedPack
	for _, p := range pi.Packs {
		if damaged.Has(p.ID) {
			bad = append(bad, p)
		} else {
			keep = append(keep, p)
		}
	}
	if err := r.StartRepacking(ctx, keep, WriteOptions{}); err != nil {
		return 0, 0, err
	}
	for _, p := range bad {
		blobs := p.List()
		locs := make([]blob.PackedBlob, 0, len(blobs))
		for _, b := range blobs {
			locs = append(locs, p.Location(b))
		}
		got := map[id.ID]bool{}
		serr := r.StreamPack(ctx, locs, func(loc blob.PackedBlob, plain []byte, err error) error {
			if err != nil {
				return nil
			}
			if _, _, _, err := r.SaveBlob(ctx, loc.Handle.Type, plain, loc.Handle.ID); err != nil {
				return err
			}
			got[loc.Handle.ID] = true
			return nil
		})
		if serr != nil && ctx.Err() != nil {
			_, _ = r.Finish(ctx)
			return saved, nlost, serr
		}
		for _, b := range blobs {
			if got[b.Handle.ID] {
				saved++
			} else {
				nlost++
				lost(p.ID, b.Handle)
			}
		}
	}
	if _, err := r.Finish(ctx); err != nil {
		return saved, nlost, err
	}
	if _, err := r.SaveIndexPacks(ctx, keep); err != nil {
		return saved, nlost, err
	}
	for _, f := range pi.Files {
		if err := r.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: f.String()}); err != nil && !errors.Is(err, backend.ErrNotExist) {
			return saved, nlost, fmt.Errorf("remove old index %v: %w", f.Str(), err)
		}
	}
	for pid := range damaged {
		if err := r.be.Remove(ctx, backend.Handle{Type: backend.PackFile, Name: pid.String()}); err != nil && !errors.Is(err, backend.ErrNotExist) {
			return saved, nlost, fmt.Errorf("remove pack %v: %w", pid.Str(), err)
		}
	}
	return saved, nlost, nil
}
