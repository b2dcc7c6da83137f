package sftp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

var _ backend.DeadTempSweeper = (*Backend)(nil)

// StaleTempFiles implements backend.TempSweeper: it returns the temporary
// files of saves ("<name>.cairn-tmp-*", beside the final file) that a
// process cut off before it could remove them left behind, older than
// maxAge or written by a process of this host that is gone (see
// backend.TempName), as paths relative to the repository directory.
func (b *Backend) StaleTempFiles(ctx context.Context, maxAge time.Duration) ([]string, error) {
	now := time.Now()
	return b.tempFiles(ctx, true, func(e os.FileInfo) bool {
		return now.Sub(e.ModTime()) >= maxAge || backend.TempWriterGone(e.Name(), tmpMarker)
	})
}

// DeadTempFiles implements backend.DeadTempSweeper: the temporary files
// of processes of this host that are gone, in every directory but data/'s
// subdirectories (where only a save of a pack puts one).
func (b *Backend) DeadTempFiles(ctx context.Context) ([]string, error) {
	return b.tempFiles(ctx, false, func(e os.FileInfo) bool { return backend.TempWriterGone(e.Name(), tmpMarker) })
}

// tempFiles lists the temporary files for which abandoned is true in the
// repository's directories, data/'s subdirectories only if all.
func (b *Backend) tempFiles(ctx context.Context, all bool, abandoned func(os.FileInfo) bool) ([]string, error) {
	data := backend.PackFile.String()
	dirs := []string{".", data, backend.IndexFile.String(), backend.SnapshotFile.String(), backend.KeyFile.String(), backend.LockFile.String()}
	if all {
		subs, err := b.readDir(ctx, path.Join(b.dir, data))
		if err != nil {
			return nil, err
		}
		for _, e := range subs {
			if validName(e.Name()) && e.IsDir() {
				dirs = append(dirs, path.Join(data, e.Name()))
			}
		}
	}
	var out []string
	for _, d := range dirs {
		entries, err := b.readDir(ctx, path.Join(b.dir, d))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Mode().IsRegular() && validName(e.Name()) && strings.Contains(e.Name(), tmpMarker) && abandoned(e) {
				out = append(out, path.Join(d, e.Name()))
			}
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
		if n == "" || path.IsAbs(n) || path.Clean(n) != n || strings.HasPrefix(n, "..") || !strings.Contains(path.Base(n), tmpMarker) {
			return backend.Permanent(fmt.Errorf("remove temporary file %q: not a temporary file of the repository", n))
		}
		if err := b.removeTemp(ctx, path.Join(b.dir, n)); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) removeTemp(ctx context.Context, p string) error {
	s, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer b.release()
	err = s.pick().Remove(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return b.fail(s, classify("remove temporary file", err))
}
