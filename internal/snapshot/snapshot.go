package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
)

// ErrInvalid is wrapped by errors about snapshot documents that do not
// decode or lack required fields.
var ErrInvalid = errors.New("invalid snapshot")

// Snapshot is one snapshot record. The JSON keys and their order are those
// restic writes; only time, tree and paths are written when empty.
type Snapshot struct {
	Time           time.Time `json:"time"`
	Parent         *id.ID    `json:"parent,omitempty"`
	Tree           *id.ID    `json:"tree"`
	Paths          []string  `json:"paths"`
	Hostname       string    `json:"hostname,omitempty"`
	Username       string    `json:"username,omitempty"`
	UID            uint32    `json:"uid,omitempty"`
	GID            uint32    `json:"gid,omitempty"`
	Excludes       []string  `json:"excludes,omitempty"`
	Tags           []string  `json:"tags,omitempty"`
	Original       *id.ID    `json:"original,omitempty"` // first ID before any rewrite
	ProgramVersion string    `json:"program_version,omitempty"`
	Summary        *Summary  `json:"summary,omitempty"` // restic writes it since 0.17

	// ID is the storage ID of the snapshot file, set by [Decode]; it is not
	// part of the JSON.
	ID id.ID `json:"-"`
}

// Summary holds a backup run's statistics. All keys are written whenever
// the summary is.
type Summary struct {
	BackupStart         time.Time `json:"backup_start"`
	BackupEnd           time.Time `json:"backup_end"`
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
}

// New returns a snapshot without tree for a backup of paths taken at t.
// The paths are made absolute and cleaned, in the order given. Username,
// UID and GID are those of the current user; if they cannot be determined
// (or are not numeric, as on Windows) they stay empty. The error is that of
// turning a relative path absolute.
func New(paths []string, tags []string, hostname string, t time.Time) (*Snapshot, error) {
	abs := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("new snapshot: %w", err)
		}
		abs[i] = a
	}
	s := &Snapshot{
		Time:     t,
		Paths:    abs,
		Hostname: hostname,
		Tags:     slices.Clone(tags),
	}
	if u, err := user.Current(); err == nil {
		s.Username = u.Username
		if v, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
			s.UID = uint32(v)
		}
		if v, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			s.GID = uint32(v)
		}
	}
	return s, nil
}

// Decode parses the plaintext JSON of the snapshot file with storage ID
// fid. Unknown keys are ignored. A document that is not valid JSON or has
// no tree yields an error wrapping [ErrInvalid].
func Decode(doc []byte, fid id.ID) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(doc, &s); err != nil {
		return nil, fmt.Errorf("%w %v: %w", ErrInvalid, fid.Str(), err)
	}
	if s.Tree == nil {
		return nil, fmt.Errorf("%w %v: no tree", ErrInvalid, fid.Str())
	}
	s.ID = fid
	return &s, nil
}

// Encode returns the JSON to store for s. It fails if s has no tree.
func (s *Snapshot) Encode() ([]byte, error) {
	if s.Tree == nil {
		return nil, fmt.Errorf("encode snapshot: %w: no tree", ErrInvalid)
	}
	return json.Marshal(s)
}

// HasTags reports whether s carries every tag in l. An empty l matches
// only snapshots without any tags, as restic's --tag ” does.
func (s *Snapshot) HasTags(l TagList) bool {
	if len(l) == 0 {
		return len(s.Tags) == 0
	}
	for _, t := range l {
		if !slices.Contains(s.Tags, t) {
			return false
		}
	}
	return true
}

// HasPaths reports whether every path in paths, cleaned, is one of the
// snapshot's paths. The snapshot may have more.
func (s *Snapshot) HasPaths(paths []string) bool {
	for _, p := range paths {
		if !slices.Contains(s.Paths, filepath.Clean(p)) {
			return false
		}
	}
	return true
}
