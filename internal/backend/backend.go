package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// FileType is the kind of file a [Handle] names.
type FileType uint8

// The file types of a repository.
const (
	ConfigFile FileType = iota + 1
	KeyFile
	LockFile
	SnapshotFile
	IndexFile
	PackFile
)

// AllTypes lists every FileType.
var AllTypes = []FileType{ConfigFile, KeyFile, LockFile, SnapshotFile, IndexFile, PackFile}

// String returns the directory name the type uses in the repository layout.
func (t FileType) String() string {
	switch t {
	case ConfigFile:
		return "config"
	case KeyFile:
		return "keys"
	case LockFile:
		return "locks"
	case SnapshotFile:
		return "snapshots"
	case IndexFile:
		return "index"
	case PackFile:
		return "data"
	}
	return fmt.Sprintf("filetype(%d)", uint8(t))
}

// Handle names one file. Name is empty for the config file.
type Handle struct {
	Type FileType
	Name string
}

func (h Handle) String() string {
	if h.Type == ConfigFile {
		return "config"
	}
	return h.Type.String() + "/" + h.Name
}

// FileInfo is what List and Stat report about a file.
type FileInfo struct {
	Name string
	Size int64
}

// Properties describe a backend to the layers above it.
type Properties struct {
	// Connections is how many requests may usefully run at once.
	Connections int
	// HasAtomicReplace reports whether Save over an existing file replaces
	// it atomically.
	HasAtomicReplace bool
}

// Backend stores files. Implementations are safe for concurrent use.
//
// Errors: a missing file yields an error for which errors.Is(err,
// [ErrNotExist]) holds; an error that retrying cannot fix is wrapped with
// [Permanent]. Any other error may be transient and the call may be retried.
type Backend interface {
	// Properties describes the backend; it never blocks.
	Properties() Properties
	// Save stores the bytes of rd under h, atomically: a reader never sees
	// a partial file. rd may be rewound and read again on retry. Saving a
	// handle that exists is an error unless the backend replaces atomically.
	Save(ctx context.Context, h Handle, rd RewindReader) error
	// Load calls fn once with a reader of length bytes at offset (length 0
	// means to the end). The reader is valid only during fn and is closed
	// by Load. If fn fails, Load returns its error; Load may call fn again
	// after a transient failure, so fn must be idempotent.
	Load(ctx context.Context, h Handle, length int, offset int64, fn func(io.Reader) error) error
	// Stat reports the size of a file.
	Stat(ctx context.Context, h Handle) (FileInfo, error)
	// List calls fn for every file of type t, sequentially, in no
	// particular order. An error from fn stops the listing and is returned.
	List(ctx context.Context, t FileType, fn func(FileInfo) error) error
	// Remove deletes a file. Removing a missing file returns ErrNotExist.
	Remove(ctx context.Context, h Handle) error
	// Close releases the backend's resources.
	Close() error
}

// ErrNotExist is matched by every error about a missing file or repository.
var ErrNotExist = errors.New("does not exist")

// permanentError marks an error that retrying will not fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying. A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// [Permanent] or is ErrNotExist.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p) || errors.Is(err, ErrNotExist)
}

// InvalidRange reports whether length bytes at offset can be no range
// of any file, whatever its size, so that Load fails at once: offset or
// length is negative, or the range would end past the largest offset,
// where offset+length wraps around to a negative end.
func InvalidRange(offset int64, length int) bool {
	return offset < 0 || length < 0 || int64(length) > math.MaxInt64-offset
}

// LoadAll reads the whole file h into memory.
func LoadAll(ctx context.Context, be Backend, h Handle) ([]byte, error) {
	var buf []byte
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		buf, err = io.ReadAll(rd)
		return err
	})
	return buf, err
}

// Unwrapper is implemented by decorators to expose the backend they wrap.
type Unwrapper interface {
	Unwrap() Backend
}

// As finds the first backend of type T in the decorator chain starting at be.
func As[T Backend](be Backend) (T, bool) {
	for be != nil {
		if t, ok := be.(T); ok {
			return t, true
		}
		u, ok := be.(Unwrapper)
		if !ok {
			break
		}
		be = u.Unwrap()
	}
	var zero T
	return zero, false
}

// notExistError keeps the message of an underlying error while matching
// ErrNotExist.
type notExistError struct{ err error }

func (e *notExistError) Error() string        { return e.err.Error() }
func (e *notExistError) Unwrap() error        { return e.err }
func (e *notExistError) Is(target error) bool { return target == ErrNotExist }

// NotExist wraps err so that errors.Is(err, ErrNotExist) holds while the
// message stays err's own.
func NotExist(err error) error {
	if err == nil {
		return nil
	}
	return &notExistError{err: err}
}

// FileMover is implemented by backends that can take a local file over as
// a repository file without copying it (the local backend renames it).
// Writers of large files (packs) look for it with [As] and otherwise write
// to a temporary file of their own and call Save.
type FileMover interface {
	Backend
	// TempFile creates an empty temporary file for a file of type t, in a
	// place from which MoveFile can move it. List never reports it.
	TempFile(t FileType) (*os.File, error)
	// MoveFile makes f, written completely by the caller, the file h:
	// synced, made read-only and moved into place atomically. It closes f
	// and, on failure, removes it.
	MoveFile(ctx context.Context, h Handle, f *os.File) error
}
