package prune

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/local"
)

// tempMarker is part of the name of every temporary file the local
// backend writes: "pack-tmp-*" from TempFile in data/, "<id>-tmp-*" from
// Save beside the final file.
const tempMarker = "-tmp-"

// staleTempFiles returns the temporary files older than maxAge in the
// data (and its subdirectories), index and snapshots directories of a
// local repository. Other backends store files atomically and leave none
// that could be seen here.
func staleTempFiles(be backend.Backend, now time.Time, maxAge time.Duration) ([]string, error) {
	lb, ok := backend.As[*local.Backend](be)
	if !ok {
		return nil, nil
	}
	data := filepath.Join(lb.Path(), backend.PackFile.String())
	dirs := []string{data, filepath.Join(lb.Path(), backend.IndexFile.String()), filepath.Join(lb.Path(), backend.SnapshotFile.String())}
	if subs, err := os.ReadDir(data); err == nil {
		for _, s := range subs {
			if s.IsDir() {
				dirs = append(dirs, filepath.Join(data, s.Name()))
			}
		}
	}
	var out []string
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("look for temporary files: %w", err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !strings.Contains(e.Name(), tempMarker) {
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

// removeTempFiles deletes files; one that is already gone is no error.
func removeTempFiles(paths []string) error {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove temporary file: %w", err)
		}
	}
	return nil
}
