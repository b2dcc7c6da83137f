package main

import (
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/internal/ui"
)

// restoreText is restore's terminal and plain output, as restic's: the
// status line and, with -vv, one line per item.
type restoreText struct{ verbose int }

func (f restoreText) StatusLines(s ui.Status) []string {
	line := fmt.Sprintf("[%s] %s  %d files/dirs %s, total %d files/dirs %s", ui.FormatDuration(s.Elapsed),
		ui.FormatPercent(s.Bytes+s.SkippedBytes, s.TotalBytes), s.Files, ui.FormatBytes(s.Bytes), s.TotalFiles, ui.FormatBytes(s.TotalBytes))
	if s.SkippedFiles > 0 {
		line += fmt.Sprintf(", skipped %d files/dirs %s", s.SkippedFiles, ui.FormatBytes(s.SkippedBytes))
	}
	return []string{line}
}

func (f restoreText) EventLine(e ui.Event) string {
	if f.verbose < 2 {
		return ""
	}
	if e.Action == "deleted" || e.IsDir {
		return fmt.Sprintf("%-9s %s", e.Action, e.Item)
	}
	return fmt.Sprintf("%-9s %s with size %s", e.Action, e.Item, ui.FormatBytes(e.Size))
}

func (restoreText) ProblemLine(p ui.Problem) string { return problemLine(p) }

// restoreSummaryLine is restic's last line of a restore (the same for a
// dry run).
func restoreSummaryLine(s ui.Status) string {
	line := fmt.Sprintf("Summary: Restored %d files/dirs (%s) in %s", s.Files, ui.FormatBytes(s.Bytes), ui.FormatDuration(s.Elapsed))
	if s.SkippedFiles > 0 {
		line += fmt.Sprintf(", skipped %d files/dirs %s", s.SkippedFiles, ui.FormatBytes(s.SkippedBytes))
	}
	if s.Deleted > 0 {
		line += fmt.Sprintf(", deleted %d files/dirs", s.Deleted)
	}
	return line
}

// restoreJSON is restore's --json output, with restic 0.19.1's fields.
type restoreJSON struct{}

type restoreStatus struct {
	MessageType    string  `json:"message_type"` // "status"
	SecondsElapsed uint64  `json:"seconds_elapsed,omitempty"`
	PercentDone    float64 `json:"percent_done"`
	restoreCounters
}

// restoreSummary is restore's final line: the status without
// percent_done.
type restoreSummary struct {
	MessageType    string `json:"message_type"` // "summary"
	SecondsElapsed uint64 `json:"seconds_elapsed,omitempty"`
	restoreCounters
}

// restoreCounters are the counters of restore's status and summary lines,
// in restic's order.
type restoreCounters struct {
	TotalFiles    uint64 `json:"total_files,omitempty"`
	FilesRestored uint64 `json:"files_restored,omitempty"`
	FilesSkipped  uint64 `json:"files_skipped,omitempty"`
	FilesDeleted  uint64 `json:"files_deleted,omitempty"`
	TotalBytes    uint64 `json:"total_bytes,omitempty"`
	BytesRestored uint64 `json:"bytes_restored,omitempty"`
	BytesSkipped  uint64 `json:"bytes_skipped,omitempty"`
}

type restoreVerbose struct {
	MessageType string `json:"message_type"` // "verbose_status"
	Action      string `json:"action"`
	Item        string `json:"item"`
	Size        uint64 `json:"size"`
}

func (restoreJSON) status(s ui.Status) any {
	if s.Final {
		return nil // the summary follows
	}
	return restoreStatus{
		MessageType: "status", SecondsElapsed: uint64(s.Elapsed / time.Second),
		PercentDone: s.Fraction(), restoreCounters: newRestoreCounters(s),
	}
}

func (restoreJSON) event(e ui.Event) any {
	return restoreVerbose{MessageType: "verbose_status", Action: e.Action, Item: e.Item, Size: e.Size}
}

func newRestoreSummary(s ui.Status) restoreSummary {
	return restoreSummary{
		MessageType: "summary", SecondsElapsed: uint64(s.Elapsed / time.Second),
		restoreCounters: newRestoreCounters(s),
	}
}

func newRestoreCounters(s ui.Status) restoreCounters {
	return restoreCounters{
		TotalFiles: s.TotalFiles, FilesRestored: s.Files, FilesSkipped: s.SkippedFiles, FilesDeleted: s.Deleted,
		TotalBytes: s.TotalBytes, BytesRestored: s.Bytes, BytesSkipped: s.SkippedBytes,
	}
}
