package archiver

import "time"

// FileState says how a file compared with the parent snapshot.
type FileState uint8

// File states, as in restic's summary.
const (
	FileNew FileState = iota
	FileChanged
	FileUnmodified
)

// action is the word restic's verbose output uses for a state.
func (s FileState) action() string {
	switch s {
	case FileChanged:
		return "modified"
	case FileUnmodified:
		return "unchanged"
	}
	return "new"
}

// Summary counts what a backup did, with the fields of restic's snapshot
// summary.
type Summary struct {
	BackupStart, BackupEnd time.Time

	FilesNew, FilesChanged, FilesUnmodified int
	DirsNew, DirsChanged, DirsUnmodified    int
	// TotalFilesProcessed and TotalBytesProcessed cover every file seen.
	TotalFilesProcessed int
	TotalBytesProcessed uint64
	// Errors is the number of paths reported as problems that were left
	// out of the snapshot.
	Errors int
}
