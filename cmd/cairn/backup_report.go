package main

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/ui"
)

// backupReporter prints per-file problems to stderr, one line each.
type backupReporter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

func newBackupReporter(w io.Writer) *backupReporter { return &backupReporter{w: w} }

func (r *backupReporter) Error(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.Is(err, archiver.ErrFileChanged) {
		fmt.Fprintf(r.w, "warning: %s: %v\n", path, err)
		return
	}
	fmt.Fprintf(r.w, "error: %s: %v\n", path, err)
}

func (r *backupReporter) CompleteFile(string, uint64, archiver.FileState) {}

func printBackupSummary(w io.Writer, s *snapshot.Summary, sid id.ID, dryRun bool) {
	fmt.Fprintf(w, "\nFiles:       %5d new, %5d changed, %5d unmodified\n", s.FilesNew, s.FilesChanged, s.FilesUnmodified)
	fmt.Fprintf(w, "Dirs:        %5d new, %5d changed, %5d unmodified\n", s.DirsNew, s.DirsChanged, s.DirsUnmodified)
	verb := "Added to the repository"
	if dryRun {
		verb = "Would add to the repository"
	}
	fmt.Fprintf(w, "%s: %s (%s stored)\n\n", verb, ui.FormatBytes(s.DataAdded), ui.FormatBytes(s.DataAddedPacked))
	d := s.BackupEnd.Sub(s.BackupStart)
	fmt.Fprintf(w, "processed %d files, %s in %d:%02d\n", s.TotalFilesProcessed, ui.FormatBytes(s.TotalBytesProcessed), int(d.Minutes()), int(d.Seconds())%60)
	if !dryRun {
		fmt.Fprintf(w, "snapshot %s saved\n", sid.Str())
	}
}
