package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

var _ backend.TempSweeper = (*Backend)(nil)

// tempDirs returns the directories that may hold temporary files, relative
// to the repository: data/ (TempFile) and its subdirectories, index/ and
// snapshots/ (Save).
func (b *Backend) tempDirs() []string {
	data := backend.PackFile.String()
	dirs := []string{data, backend.IndexFile.String(), backend.SnapshotFile.String()}
	if subs, err := os.ReadDir(filepath.Join(b.path, data)); err == nil {
		for _, s := range subs {
			if s.IsDir() {
				dirs = append(dirs, filepath.Join(data, s.Name()))
			}
		}
	}
	return dirs
}

// StaleTempFiles implements backend.TempSweeper: it returns the temporary
// files ("pack-tmp-*" from TempFile, "<name>-tmp-*" from Save) older than
// maxAge, as paths relative to the repository directory.
func (b *Backend) StaleTempFiles(ctx context.Context, maxAge time.Duration) ([]string, error) {
	now := time.Now()
	var out []string
	for _, d := range b.tempDirs() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		entries, err := os.ReadDir(filepath.Join(b.path, d))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("look for temporary files: %w", err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !strings.Contains(e.Name(), tmpMarker) {
				continue
			}
			fi, err := e.Info()
			if err != nil || now.Sub(fi.ModTime()) < maxAge {
				continue
			}
			out = append(out, filepath.Join(d, e.Name()))
		}
	}
	return out, nil
}

// RemoveTempFiles implements backend.TempSweeper. It refuses names that
// are not temporary files inside the repository.
func (b *Backend) RemoveTempFiles(ctx context.Context, names []string) error {
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !filepath.IsLocal(n) || !strings.Contains(filepath.Base(n), tmpMarker) {
			return backend.Permanent(fmt.Errorf("remove temporary file %q: not a temporary file of the repository", n))
		}
		if err := os.Remove(filepath.Join(b.path, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove temporary file: %w", err)
		}
	}
	return nil
}
