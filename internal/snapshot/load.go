package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
)

// Conditions of [Find] that callers branch on.
var (
	// ErrNotFound means no snapshot matches the reference and filter.
	ErrNotFound = errors.New("no matching snapshot found")
	// ErrAmbiguous means an ID prefix matches several snapshots.
	ErrAmbiguous = errors.New("ambiguous snapshot ID prefix")
)

// loadConcurrency bounds the snapshot files loaded at once.
const loadConcurrency = 8

// Repository is what this package needs from a repository.
type Repository interface {
	// ListSnapshots calls fn with the ID of every snapshot file, one call
	// at a time from a single goroutine. If fn returns an error, listing
	// stops and ListSnapshots returns that error.
	ListSnapshots(ctx context.Context, fn func(id.ID) error) error
	// LoadSnapshotJSON returns the plaintext JSON of a snapshot file,
	// decrypted, decompressed and checked against its ID. It must be safe
	// for concurrent use.
	LoadSnapshotJSON(ctx context.Context, fid id.ID) ([]byte, error)
}

// DamagedError is the error of [Load] for a snapshot file that exists but
// cannot be read or decoded: its bytes fail to decrypt or verify, or its
// JSON is not a snapshot. Err says why, and names the snapshot.
type DamagedError struct {
	ID  id.ID
	Err error
}

func (e *DamagedError) Error() string { return e.Err.Error() }
func (e *DamagedError) Unwrap() error { return e.Err }

// DamagedFunc is told of a snapshot that [LoadAll], [Find] or [Select]
// leaves out because it is damaged; err is a [*DamagedError]. It is called
// on the caller's goroutine, once per snapshot, in ID order. Passing nil
// instead makes a damaged snapshot fail the call: prune and check must
// know every snapshot, a listing can go on without one.
type DamagedFunc func(fid id.ID, err error)

// Load reads and decodes the snapshot file fid. A file that is gone yields
// an error wrapping [backend.ErrNotExist]; one that cannot be read or
// decoded a [*DamagedError] (unless ctx is done, then ctx's error).
func Load(ctx context.Context, repo Repository, fid id.ID) (*Snapshot, error) {
	doc, err := repo.LoadSnapshotJSON(ctx, fid)
	if err == nil {
		var s *Snapshot
		if s, err = Decode(doc, fid); err == nil {
			return s, nil
		}
	} else {
		err = fmt.Errorf("load snapshot %v: %w", fid.Str(), err)
	}
	if errors.Is(err, backend.ErrNotExist) {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, &DamagedError{ID: fid, Err: err}
}

// LoadAll loads every snapshot of repo, up to 8 at a time, and returns
// them sorted by time, oldest first (ties by ID). A snapshot removed
// between the listing and its loading is left out. A damaged one is left
// out and reported to damaged, or, if damaged is nil, fails the call.
// Any other failure stops the others and is returned.
func LoadAll(ctx context.Context, repo Repository, damaged DamagedFunc) ([]*Snapshot, error) {
	var ids []id.ID
	err := repo.ListSnapshots(ctx, func(fid id.ID) error {
		ids = append(ids, fid)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}

	out := make([]*Snapshot, len(ids))
	bad := make([]error, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadConcurrency)
	for i, fid := range ids {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			s, err := Load(gctx, repo, fid)
			var de *DamagedError
			switch {
			case errors.Is(err, backend.ErrNotExist):
				return nil // removed since the listing (forget beside this command)
			case errors.As(err, &de) && damaged != nil:
				bad[i] = err
				return nil
			}
			out[i] = s
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reportDamaged(ids, bad, damaged)
	out = slices.DeleteFunc(out, func(s *Snapshot) bool { return s == nil })
	sortByTime(out)
	return out, nil
}

// reportDamaged calls damaged for each error of errs, in ID order.
func reportDamaged(ids []id.ID, errs []error, damaged DamagedFunc) {
	idx := make([]int, 0, len(ids))
	for i, err := range errs {
		if err != nil {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(ids[a][:], ids[b][:]) })
	for _, i := range idx {
		damaged(ids[i], errs[i])
	}
}

// sortByTime orders snaps oldest first, breaking ties by ID.
func sortByTime(snaps []*Snapshot) {
	slices.SortFunc(snaps, func(a, b *Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
}

// Find resolves a snapshot reference as given on a command line:
//
//   - "latest": the newest snapshot that matches f, among those [LoadAll]
//     can read (damaged ones are reported to damaged, or fail the call if
//     it is nil);
//   - a full ID or a unique prefix of one (hex, either case): that snapshot,
//     whatever f says (as in restic, the filter applies to "latest" only).
//     If it is damaged, the [*DamagedError] is returned (damaged is not
//     called): the caller asked for that one.
//
// It returns an error wrapping [ErrNotFound] if nothing matches (or ref is
// not hex), and [ErrAmbiguous] if a prefix matches several snapshots.
func Find(ctx context.Context, repo Repository, ref string, f Filter, damaged DamagedFunc) (*Snapshot, error) {
	if ref == "latest" {
		snaps, err := LoadAll(ctx, repo, damaged)
		if err != nil {
			return nil, err
		}
		for _, s := range slices.Backward(snaps) {
			if f.Match(s) {
				return s, nil
			}
		}
		return nil, fmt.Errorf("latest snapshot: %w", ErrNotFound)
	}
	fid, err := Resolve(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	return Load(ctx, repo, fid)
}

// Resolve returns the one snapshot ID that starts with prefix (hex, either
// case), without loading the snapshot, with errors as [Find]'s.
func Resolve(ctx context.Context, repo Repository, prefix string) (id.ID, error) {
	p := strings.ToLower(prefix)
	if p == "" || len(p) > 2*id.Size || strings.Trim(p, "0123456789abcdef") != "" {
		return id.ID{}, fmt.Errorf("snapshot %q: not an ID or prefix: %w", prefix, ErrNotFound)
	}
	var (
		found id.ID
		n     int
	)
	err := repo.ListSnapshots(ctx, func(fid id.ID) error {
		if !strings.HasPrefix(fid.String(), p) {
			return nil
		}
		found = fid
		if n++; n > 1 {
			return ErrAmbiguous // stop listing
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrAmbiguous):
		return id.ID{}, fmt.Errorf("snapshot %q: %w", prefix, ErrAmbiguous)
	case err != nil:
		return id.ID{}, fmt.Errorf("list snapshots: %w", err)
	case n == 0:
		return id.ID{}, fmt.Errorf("snapshot %q: %w", prefix, ErrNotFound)
	}
	return found, nil
}
