package repository

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"golang.org/x/sync/errgroup"
)

// Connections is how many backend operations the repository's backend
// takes at once: the width for I/O-bound work pools.
func (r *Repository) Connections() int { return r.be.Properties().Connections }

// RemoveFiles deletes the files ids of type t, several at a time. A file
// that is already gone is no error.
func (r *Repository) RemoveFiles(ctx context.Context, t backend.FileType, ids []id.ID) error {
	if t != backend.LockFile {
		if err := r.waitWriteGate(ctx); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, r.Connections()))
	for _, fid := range ids {
		g.Go(func() error {
			h := backend.Handle{Type: t, Name: fid.String()}
			if err := r.be.Remove(gctx, h); err != nil && !errors.Is(err, backend.ErrNotExist) {
				return fmt.Errorf("remove %v: %w", h, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// RemoveSnapshots deletes the snapshot files ids (see [Repository.RemoveFiles]).
func (r *Repository) RemoveSnapshots(ctx context.Context, ids []id.ID) error {
	return r.RemoveFiles(ctx, backend.SnapshotFile, ids)
}

// StaleTempFiles returns the temporary files older than maxAge that the
// backend left behind (see [backend.TempSweeper]). Backends without
// temporary files of their own report none.
func (r *Repository) StaleTempFiles(ctx context.Context, maxAge time.Duration) ([]string, error) {
	s, ok := backend.As[backend.TempSweeper](r.be)
	if !ok {
		return nil, nil
	}
	names, err := s.StaleTempFiles(ctx, maxAge)
	if err != nil {
		return nil, fmt.Errorf("look for temporary files: %w", err)
	}
	return names, nil
}

// DeadTempFiles returns the temporary files that processes of this host
// left behind when they were killed, where the backend can tell cheaply
// (see [backend.DeadTempSweeper]); other backends report none.
func (r *Repository) DeadTempFiles(ctx context.Context) ([]string, error) {
	s, ok := backend.As[backend.DeadTempSweeper](r.be)
	if !ok {
		return nil, nil
	}
	names, err := s.DeadTempFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("look for temporary files: %w", err)
	}
	return names, nil
}

// RemoveTempFiles deletes files StaleTempFiles or DeadTempFiles returned; one that is
// already gone is no error.
func (r *Repository) RemoveTempFiles(ctx context.Context, names []string) error {
	s, ok := backend.As[backend.TempSweeper](r.be)
	if !ok {
		return fmt.Errorf("remove %d temporary files: the backend has none", len(names))
	}
	return s.RemoveTempFiles(ctx, names)
}
