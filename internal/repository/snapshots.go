package repository

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"golang.org/x/sync/errgroup"
)

// RemoveSnapshots deletes the snapshot files ids, several at a time. A
// file that is already gone is no error.
func (r *Repository) RemoveSnapshots(ctx context.Context, ids []id.ID) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, r.be.Properties().Connections))
	for _, sid := range ids {
		g.Go(func() error {
			h := backend.Handle{Type: backend.SnapshotFile, Name: sid.String()}
			if err := r.be.Remove(gctx, h); err != nil && !errors.Is(err, backend.ErrNotExist) {
				return fmt.Errorf("remove snapshot %v: %w", sid.Str(), err)
			}
			return nil
		})
	}
	return g.Wait()
}
