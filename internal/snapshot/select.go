package snapshot

import (
	"context"
	"errors"
	"slices"

	"github.com/cairn-backup/cairn/internal/id"
)

// Select returns the snapshots refs name (IDs, ID prefixes or "latest",
// which f picks among), without repeats and in the given order; with no
// refs, every snapshot f matches, oldest first. A damaged snapshot,
// whether named by ID or met while looking for "latest", is left out and
// reported to damaged, once; if damaged is nil, it fails the call.
func Select(ctx context.Context, repo Repository, refs []string, f Filter, damaged DamagedFunc) ([]*Snapshot, error) {
	if damaged != nil {
		damaged = once(damaged)
	}
	if len(refs) == 0 {
		all, err := LoadAll(ctx, repo, damaged)
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(all, func(s *Snapshot) bool { return !f.Match(s) }), nil
	}
	var out []*Snapshot
	seen := id.NewSet()
	for _, ref := range refs {
		s, err := Find(ctx, repo, ref, f, damaged)
		var de *DamagedError
		switch {
		case errors.As(err, &de) && damaged != nil:
			damaged(de.ID, err)
			continue
		case err != nil:
			return nil, err
		}
		if !seen.Has(s.ID) {
			seen.Insert(s.ID)
			out = append(out, s)
		}
	}
	return out, nil
}

// once returns a DamagedFunc that passes each snapshot on to fn only the
// first time.
func once(fn DamagedFunc) DamagedFunc {
	told := id.NewSet()
	return func(fid id.ID, err error) {
		if !told.Has(fid) {
			told.Insert(fid)
			fn(fid, err)
		}
	}
}
