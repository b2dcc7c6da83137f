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

// Load reads and decodes the snapshot file fid.
func Load(ctx context.Context, repo Repository, fid id.ID) (*Snapshot, error) {
	doc, err := repo.LoadSnapshotJSON(ctx, fid)
	if err != nil {
		return nil, fmt.Errorf("load snapshot %v: %w", fid.Str(), err)
	}
	return Decode(doc, fid)
}

// LoadAll loads every snapshot of repo, up to 8 at a time, and returns
// them sorted by time, oldest first (ties by ID). The first failure stops
// the others and is returned: a single unreadable snapshot fails the call.
// A snapshot removed between the listing and its loading is left out.
func LoadAll(ctx context.Context, repo Repository) ([]*Snapshot, error) {
	var ids []id.ID
	err := repo.ListSnapshots(ctx, func(fid id.ID) error {
		ids = append(ids, fid)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}

	out := make([]*Snapshot, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadConcurrency)
	for i, fid := range ids {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			s, err := Load(gctx, repo, fid)
			if errors.Is(err, backend.ErrNotExist) {
				return nil // removed since the listing (forget beside this command)
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
	out = slices.DeleteFunc(out, func(s *Snapshot) bool { return s == nil })
	sortByTime(out)
	return out, nil
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
//   - "latest": the newest snapshot that matches f;
//   - a full ID or a unique prefix of one (hex, either case): that snapshot,
//     whatever f says (as in restic, the filter applies to "latest" only).
//
// It returns an error wrapping [ErrNotFound] if nothing matches (or ref is
// not hex), and [ErrAmbiguous] if a prefix matches several snapshots.
func Find(ctx context.Context, repo Repository, ref string, f Filter) (*Snapshot, error) {
	if ref == "latest" {
		snaps, err := LoadAll(ctx, repo)
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
	fid, err := resolve(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	return Load(ctx, repo, fid)
}

// resolve finds the one snapshot ID that starts with prefix.
func resolve(ctx context.Context, repo Repository, prefix string) (id.ID, error) {
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
