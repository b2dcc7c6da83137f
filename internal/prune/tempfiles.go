package prune

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// staleTempFiles returns the temporary files older than maxAge that the
// repository's backend left behind (see backend.TempSweeper). Backends
// without temporary files of their own report none.
func staleTempFiles(ctx context.Context, be backend.Backend, maxAge time.Duration) ([]string, error) {
	s, ok := backend.As[backend.TempSweeper](be)
	if !ok {
		return nil, nil
	}
	names, err := s.StaleTempFiles(ctx, maxAge)
	if err != nil {
		return nil, fmt.Errorf("look for temporary files: %w", err)
	}
	return names, nil
}

// removeTempFiles deletes files staleTempFiles returned; one that is
// already gone is no error.
func removeTempFiles(ctx context.Context, be backend.Backend, names []string) error {
	s, ok := backend.As[backend.TempSweeper](be)
	if !ok {
		return fmt.Errorf("remove %d temporary files: the backend has none", len(names))
	}
	return s.RemoveTempFiles(ctx, names)
}
