package snapshot

import (
	"context"
	"slices"

	"github.com/cairn-backup/cairn/internal/id"
)

// Select returns the snapshots refs name (IDs, ID prefixes or "latest",
// which f picks among), without repeats and in the given order; with no
// refs, every snapshot f matches, oldest first.
func Select(ctx context.Context, repo Repository, refs []string, f Filter) ([]*Snapshot, error) {
	if len(refs) == 0 {
		all, err := LoadAll(ctx, repo)
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(all, func(s *Snapshot) bool { return !f.Match(s) }), nil
	}
	var out []*Snapshot
	seen := id.NewSet()
	for _, ref := range refs {
		s, err := Find(ctx, repo, ref, f)
		if err != nil {
			return nil, err
		}
		if !seen.Has(s.ID) {
			seen.Insert(s.ID)
			out = append(out, s)
		}
	}
	return out, nil
}
