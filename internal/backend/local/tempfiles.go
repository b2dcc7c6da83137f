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

var _ backend.DeadTempSweeper = (*Backend)(nil)

// tempDirs returns the directories that may hold temporary files, relative
// to the repository: the root (config), keys/, locks/, index/, snapshots/
// and data/ (Save and TempFile), and, if all, data/'s 256 subdirectories
// (Save of a pack), which cost a listing each.
func (b *Backend) tempDirs(all bool) []string {
	data := backend.PackFile.String()
	dirs := []string{".", backend.KeyFile.String(), backend.LockFile.String(),
		backend.IndexFile.String(), backend.SnapshotFile.String(), data}
	if !all {
		return dirs
	}
	if subs, err := os.ReadDir(filepath.Join(b.path, data)); err == nil {
		for _, s := range subs {
			if s.IsDir() {
				dirs = append(dirs, filepath.Join(data, s.Name()))
			}
		}
	}
	return dirs
}

// tempFiles returns the temporary files in dirs for which abandoned is
// true, as paths relative to the repository directory.
func (b *Backend) tempFiles(ctx context.Context, dirs []string, abandoned func(name string, mtime time.Time) bool) ([]string, error) {
	var out []string
	for _, d := range dirs {
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
			if err != nil || !abandoned(e.Name(), fi.ModTime()) {
				continue
			}
			out = append(out, filepath.Join(d, e.Name()))
		}
	}
	return out, nil
}

// StaleTempFiles implements backend.TempSweeper: it returns the temporary
// files ("pack-tmp-*" from TempFile, "<name>-tmp-*" from Save) older than
// maxAge, or written by a process of this host that is gone, as paths
// relative to the repository directory.
func (b *Backend) StaleTempFiles(ctx context.Context, maxAge time.Duration) ([]string, error) {
	now := time.Now()
	return b.tempFiles(ctx, b.tempDirs(true), func(name string, mtime time.Time) bool {
		return now.Sub(mtime) >= maxAge || writerGone(name)
	})
}

// DeadTempFiles implements backend.DeadTempSweeper: the temporary files
// of processes of this host that are gone, in every directory but data/'s
// subdirectories (where only a Save of a pack puts one). It costs six
// directory listings.
func (b *Backend) DeadTempFiles(ctx context.Context) ([]string, error) {
	return b.tempFiles(ctx, b.tempDirs(false), func(name string, _ time.Time) bool { return writerGone(name) })
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
