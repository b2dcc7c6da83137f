package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/ui"
)

// backupText is backup's terminal and plain output, as restic's: the
// status line, "scan finished" with -v and one line per item with -vv.
type backupText struct{ verbose int }

func (f backupText) StatusLines(s ui.Status) []string {
	elapsed := ui.FormatDuration(s.Elapsed)
	var line string
	if s.TotalFiles == 0 {
		line = fmt.Sprintf("[%s] %d files, %s, %d errors", elapsed, s.Files, ui.FormatBytes(s.Bytes), s.Errors)
	} else {
		var percent, eta string
		if rem := s.Remaining(); rem > 0 && s.Bytes < s.TotalBytes {
			percent = ui.FormatPercent(s.Bytes, s.TotalBytes) + "  "
			eta = " ETA " + ui.FormatDuration(rem)
		}
		line = fmt.Sprintf("[%s] %s%d files %s, total %d files %s, %d errors%s", elapsed, percent,
			s.Files, ui.FormatBytes(s.Bytes), s.TotalFiles, ui.FormatBytes(s.TotalBytes), s.Errors, eta)
	}
	return append([]string{line}, s.Current...)
}

func (f backupText) EventLine(e ui.Event) string {
	switch {
	case e.Action == "scan_finished":
		return fmt.Sprintf("scan finished in %.3fs: %d files, %s", e.Duration.Seconds(), e.TotalFiles, ui.FormatBytes(e.Size))
	case f.verbose < 2:
		return ""
	case e.Action == "unchanged":
		return "unchanged " + e.Item
	case e.IsDir:
		return fmt.Sprintf("%-9s %s, saved in %.3fs (%s added, %s stored, %s metadata)", e.Action, e.Item, e.Duration.Seconds(),
			ui.FormatBytes(e.DataAdded), ui.FormatBytes(e.DataAddedPacked), ui.FormatBytes(e.MetadataAdded))
	}
	return fmt.Sprintf("%-9s %s, saved in %.3fs (%s added, %s stored)", e.Action, e.Item, e.Duration.Seconds(),
		ui.FormatBytes(e.DataAdded), ui.FormatBytes(e.DataAddedPacked))
}

func (backupText) ProblemLine(p ui.Problem) string { return problemLine(p) }

// problemLine is restic's line for a failed item: "error: " and the error,
// which names the path (or is preceded by it when it does not).
func problemLine(p ui.Problem) string {
	msg := p.Err.Error()
	if p.Item != "" && !strings.Contains(msg, p.Item) {
		msg = p.Item + ": " + msg
	}
	if p.Warning || errors.Is(p.Err, archiver.ErrFileChanged) {
		return "warning: " + msg
	}
	return "error: " + msg
}

// backupJSON is backup's --json output, with restic 0.19.1's fields.
type backupJSON struct{}

type backupStatus struct {
	MessageType      string   `json:"message_type"` // "status"
	SecondsElapsed   uint64   `json:"seconds_elapsed,omitempty"`
	SecondsRemaining uint64   `json:"seconds_remaining,omitempty"`
	PercentDone      float64  `json:"percent_done"`
	TotalFiles       uint64   `json:"total_files,omitempty"`
	FilesDone        uint64   `json:"files_done,omitempty"`
	TotalBytes       uint64   `json:"total_bytes,omitempty"`
	BytesDone        uint64   `json:"bytes_done,omitempty"`
	ErrorCount       uint64   `json:"error_count,omitempty"`
	CurrentFiles     []string `json:"current_files,omitempty"`
}

type backupVerbose struct {
	MessageType        string  `json:"message_type"` // "verbose_status"
	Action             string  `json:"action"`
	Item               string  `json:"item"`
	Duration           float64 `json:"duration"`
	DataSize           uint64  `json:"data_size"`
	DataSizeInRepo     uint64  `json:"data_size_in_repo"`
	MetadataSize       uint64  `json:"metadata_size"`
	MetadataSizeInRepo uint64  `json:"metadata_size_in_repo"`
	TotalFiles         uint64  `json:"total_files"`
}

func (backupJSON) status(s ui.Status) any {
	return backupStatus{
		MessageType:      "status",
		SecondsElapsed:   uint64(s.Elapsed / time.Second),
		SecondsRemaining: uint64(s.Remaining() / time.Second),
		PercentDone:      s.Fraction(),
		TotalFiles:       s.TotalFiles, FilesDone: s.Files,
		TotalBytes: s.TotalBytes, BytesDone: s.Bytes,
		ErrorCount: s.Errors, CurrentFiles: s.Current,
	}
}

func (backupJSON) event(e ui.Event) any {
	m := backupVerbose{
		MessageType: "verbose_status", Action: e.Action, Item: e.Item,
		Duration: e.Duration.Seconds(), TotalFiles: e.TotalFiles,
		DataSize: e.DataAdded, DataSizeInRepo: e.DataAddedPacked,
		MetadataSize: e.MetadataAdded, MetadataSizeInRepo: e.MetadataAddedPacked,
	}
	if e.Action == "scan_finished" {
		m.DataSize = e.Size
	}
	return m
}

// backupSummary is restic's final summary line of backup --json.
type backupSummary struct {
	MessageType         string    `json:"message_type"` // "summary"
	FilesNew            int       `json:"files_new"`
	FilesChanged        int       `json:"files_changed"`
	FilesUnmodified     int       `json:"files_unmodified"`
	DirsNew             int       `json:"dirs_new"`
	DirsChanged         int       `json:"dirs_changed"`
	DirsUnmodified      int       `json:"dirs_unmodified"`
	DataBlobs           int       `json:"data_blobs"`
	TreeBlobs           int       `json:"tree_blobs"`
	DataAdded           uint64    `json:"data_added"`
	DataAddedPacked     uint64    `json:"data_added_packed"`
	TotalFilesProcessed uint64    `json:"total_files_processed"`
	TotalBytesProcessed uint64    `json:"total_bytes_processed"`
	TotalDuration       float64   `json:"total_duration"`
	BackupStart         time.Time `json:"backup_start"`
	BackupEnd           time.Time `json:"backup_end"`
	SnapshotID          string    `json:"snapshot_id,omitempty"`
	DryRun              bool      `json:"dry_run,omitempty"` // last, as restic has it
}

// newBackupSummary is the summary line; sid is omitted when noSnapshot.
func newBackupSummary(s *snapshot.Summary, sid id.ID, noSnapshot, dryRun bool) backupSummary {
	m := backupSummary{
		MessageType: "summary", DryRun: dryRun,
		FilesNew: s.FilesNew, FilesChanged: s.FilesChanged, FilesUnmodified: s.FilesUnmodified,
		DirsNew: s.DirsNew, DirsChanged: s.DirsChanged, DirsUnmodified: s.DirsUnmodified,
		DataBlobs: s.DataBlobs, TreeBlobs: s.TreeBlobs,
		DataAdded: s.DataAdded, DataAddedPacked: s.DataAddedPacked,
		TotalFilesProcessed: s.TotalFilesProcessed, TotalBytesProcessed: s.TotalBytesProcessed,
		TotalDuration: s.BackupEnd.Sub(s.BackupStart).Seconds(),
		BackupStart:   s.BackupStart, BackupEnd: s.BackupEnd,
	}
	if !noSnapshot {
		m.SnapshotID = sid.String()
	}
	return m
}

// printBackupSummary prints restic's text summary; the blob counts only
// with -v.
func printBackupSummary(w io.Writer, s *snapshot.Summary, sid id.ID, dryRun, skipped bool, verbose int) {
	fmt.Fprintf(w, "\nFiles:       %5d new, %5d changed, %5d unmodified\n", s.FilesNew, s.FilesChanged, s.FilesUnmodified)
	fmt.Fprintf(w, "Dirs:        %5d new, %5d changed, %5d unmodified\n", s.DirsNew, s.DirsChanged, s.DirsUnmodified)
	if verbose > 0 {
		fmt.Fprintf(w, "Data Blobs:  %5d new\n", s.DataBlobs)
		fmt.Fprintf(w, "Tree Blobs:  %5d new\n", s.TreeBlobs)
	}
	verb := "Added to the repository"
	if dryRun {
		verb = "Would add to the repository"
	}
	fmt.Fprintf(w, "%s: %-5s (%-5s stored)\n\n", verb, ui.FormatBytes(s.DataAdded), ui.FormatBytes(s.DataAddedPacked))
	fmt.Fprintf(w, "processed %d files, %s in %s\n", s.TotalFilesProcessed, ui.FormatBytes(s.TotalBytesProcessed), ui.FormatDuration(s.BackupEnd.Sub(s.BackupStart)))
	switch {
	case skipped:
		fmt.Fprintln(w, "skipped creating snapshot")
	case !dryRun:
		fmt.Fprintf(w, "snapshot %s saved\n", sid.Str())
	}
}
