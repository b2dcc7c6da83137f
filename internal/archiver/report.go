package archiver

import "time"

// Reporter receives what happens during a backup. Calls come from several
// goroutines at once; implementations must be safe for concurrent use and
// fast. A nil Reporter in Options discards everything.
type Reporter interface {
	// Error reports a problem with one path that was skipped (or, for
	// changed files, saved as read). The backup goes on.
	Error(path string, err error)
	// CompleteFile reports a finished file with its size and how many of
	// its bytes were new.
	CompleteFile(path string, size uint64, state FileState)
}

// FileState says how a file compared with the parent snapshot.
type FileState uint8

// File states, as in restic's summary.
const (
	FileNew FileState = iota
	FileChanged
	FileUnmodified
)

type nopReporter struct{}

func (nopReporter) Error(string, error)                    {}
func (nopReporter) CompleteFile(string, uint64, FileState) {}

// Summary counts what a backup did, with the fields of restic's snapshot
// summary.
type Summary struct {
	BackupStart, BackupEnd time.Time

	FilesNew, FilesChanged, FilesUnmodified int
	DirsNew, DirsChanged, DirsUnmodified    int
	// TotalFilesProcessed and TotalBytesProcessed cover every file seen.
	TotalFilesProcessed int
	TotalBytesProcessed uint64
	// Errors is the number of paths reported to Reporter.Error that were
	// left out of the snapshot.
	Errors int
}
