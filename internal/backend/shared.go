package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// The helpers below hold what every remote backend does alike.

// ReadTracker passes reads through and remembers the first error other
// than io.EOF, so that a failure of Load's callback can be told apart:
// caused by the data source failing (transient) or the callback's own.
type ReadTracker struct {
	R   io.Reader
	Err error
}

func (t *ReadTracker) Read(p []byte) (int, error) {
	n, err := t.R.Read(p)
	if err != nil && err != io.EOF && t.Err == nil {
		t.Err = err
	}
	return n, err
}

// CallLoadFn runs Load's callback fn on rd. An error after a failed read
// of rd is returned as it is (transient); any other error of fn is marked
// Permanent.
func CallLoadFn(rd io.Reader, fn func(io.Reader) error) error {
	tr := &ReadTracker{R: rd}
	if err := fn(tr); err != nil {
		if tr.Err != nil {
			return err
		}
		return Permanent(err)
	}
	return nil
}

// LoadPastEnd answers a load of h whose range the server refused as
// lying at or beyond the end of a file of size bytes: zero bytes at the
// very end are an empty read, anything else is a permanent error.
func LoadPastEnd(h Handle, length int, offset, size int64, fn func(io.Reader) error) error {
	if length == 0 && offset == size {
		return CallLoadFn(strings.NewReader(""), fn)
	}
	return Permanent(fmt.Errorf("load %v: range %d+%d beyond size %d", h, offset, length, size))
}

// CheckRepository checks that be holds a repository, that is a config
// file. A missing one is an error matching ErrNotExist that names where.
func CheckRepository(ctx context.Context, be Backend, where string) error {
	_, err := be.Stat(ctx, Handle{Type: ConfigFile})
	switch {
	case errors.Is(err, ErrNotExist):
		return NotExist(fmt.Errorf("repository %s does not exist", where))
	case err != nil:
		return fmt.Errorf("open repository %s: %w", where, err)
	}
	return nil
}

// ListConfig is List for the config file, for backends that keep it
// under a fixed name: fn sees it if it exists.
func ListConfig(ctx context.Context, be Backend, fn func(FileInfo) error) error {
	fi, err := be.Stat(ctx, Handle{Type: ConfigFile})
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return fn(fi)
}

// Slots limits how many operations of a backend run at once
// (Properties().Connections).
type Slots chan struct{}

// NewSlots returns n slots.
func NewSlots(n int) Slots { return make(Slots, n) }

// Acquire takes a slot, waiting for one as long as ctx allows.
func (s Slots) Acquire(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release gives a slot back.
func (s Slots) Release() { <-s }

// ValidName reports whether name can be a repository file's name: one
// path component, not empty, "." or "..", without a slash, backslash or
// NUL. Names from a server's listing are checked with it, since they reach
// the local cache's file system.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00")
}

// ObjectName returns the name of h in an object store under prefix, in
// restic's layout: "config", "<type>/<name>", and for packs
// "data/<first two hex digits>/<name>". Names that could leave their
// directory are a permanent error.
func ObjectName(prefix string, h Handle) (string, error) {
	if h.Type == ConfigFile {
		return path.Join(prefix, "config"), nil
	}
	if !ValidName(h.Name) {
		return "", Permanent(fmt.Errorf("invalid file name %q for %v", h.Name, h.Type))
	}
	switch h.Type {
	case KeyFile, LockFile, SnapshotFile, IndexFile:
		return path.Join(prefix, h.Type.String(), h.Name), nil
	case PackFile:
		if len(h.Name) < 2 {
			return "", Permanent(fmt.Errorf("invalid file name %q for %v", h.Name, h.Type))
		}
		return path.Join(prefix, h.Type.String(), h.Name[:2], h.Name), nil
	}
	return "", Permanent(fmt.Errorf("invalid file type %v", h.Type))
}

// CheckNoRepository is what creating a repository checks last: that be
// has no config file yet. An existing one is a permanent error.
func CheckNoRepository(ctx context.Context, be Backend) error {
	_, err := be.Stat(ctx, Handle{Type: ConfigFile})
	switch {
	case err == nil:
		return Permanent(errors.New("config file already exists"))
	case !errors.Is(err, ErrNotExist):
		return err
	}
	return nil
}
