package archiver

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-backup/cairn/internal/ui"
)

// scan walks the targets beside the backup, as restic's scanner does, and
// adds every regular file it finds to the progress totals, so that the
// status can show a percentage and an estimate. It reports nothing: the
// archiver reports the problems it meets itself.
func (a *Archiver) scan(ctx context.Context, targets []string) {
	start := time.Now()
	for _, t := range targets {
		fi, err := os.Lstat(t)
		if err != nil {
			continue
		}
		a.scanEntry(ctx, t, fi, deviceOf(fi))
	}
	if ctx.Err() != nil {
		return
	}
	a.prog.ScanFinished()
	a.prog.Event(ui.Event{
		Action: "scan_finished", Duration: time.Since(start),
		Size: a.prog.TotalBytes.Load(), TotalFiles: a.prog.TotalFiles.Load(),
	})
}

func (a *Archiver) scanEntry(ctx context.Context, path string, fi os.FileInfo, dev uint64) {
	switch {
	case fi.Mode().IsRegular():
		a.prog.AddTotal(1, uint64(fi.Size()))
	case fi.IsDir():
		if ctx.Err() != nil || (a.opts.OneFileSystem && deviceOf(fi) != dev) {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			return
		}
		names, _ := f.Readdirnames(-1)
		_ = f.Close()
		for _, name := range names {
			p := filepath.Join(path, name)
			cfi, err := os.Lstat(p)
			if err != nil || (a.opts.Excluded != nil && a.opts.Excluded(p, cfi)) {
				continue
			}
			a.scanEntry(ctx, p, cfi, dev)
		}
	}
}

// snapPath is the path in the snapshot of a file system path, as restic's
// status and verbose lines show it: relative targets sit at the root.
func (a *Archiver) snapPath(path string) string {
	if a.root == "" || a.root == "/" {
		return path
	}
	if rel, err := filepath.Rel(a.root, path); err == nil && filepath.IsLocal(rel) {
		return "/" + filepath.ToSlash(rel)
	}
	return path
}
