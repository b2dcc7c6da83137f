// Package listing decides which nodes of a snapshot `ls` shows, in which
// order, and writes the ncdu export format. It follows restic 0.19.1: with
// directory arguments, each directory itself and its direct children are
// listed (everything below it with recursive); without, the whole tree.
package listing

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/cairn-backup/cairn/internal/tree"
)

// ErrRelative is returned by NewFilter for a directory argument that does
// not start with "/".
var ErrRelative = errors.New("All path filters must be absolute, starting with a forward slash '/'")

// Filter selects the nodes below the given directories.
type Filter struct {
	dirs      []string
	recursive bool
}

// NewFilter returns the filter for the directory arguments of ls; no
// directories select the whole tree.
func NewFilter(dirs []string, recursive bool) (*Filter, error) {
	f := &Filter{recursive: recursive}
	for _, d := range dirs {
		if !strings.HasPrefix(d, "/") {
			return nil, ErrRelative
		}
		f.dirs = append(f.dirs, path.Clean(d))
	}
	return f, nil
}

// within reports whether p is below d (not d itself).
func within(p, d string) bool {
	if d == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, d+"/")
}

// Show reports whether the node at path p is listed.
func (f *Filter) Show(p string) bool {
	if len(f.dirs) == 0 {
		return true
	}
	for _, d := range f.dirs {
		if p == d || path.Dir(p) == d || (f.recursive && within(p, d)) {
			return true
		}
	}
	return false
}

// Enter reports whether the walk descends into the directory at path p:
// it lies on the way to a directory argument, is one, or, with recursive,
// lies below one.
func (f *Filter) Enter(p string) bool {
	if len(f.dirs) == 0 {
		return true
	}
	for _, d := range f.dirs {
		if p == d || within(d, p) || (f.recursive && within(p, d)) {
			return true
		}
	}
	return false
}

// Entry is one listed node and its path.
type Entry struct {
	Path string
	Node *tree.Node
}

// SortModes are the values of ls --sort; "time" is "mtime".
var SortModes = []string{"name", "size", "time", "mtime", "atime", "ctime", "extension"}

// ParseSort checks a --sort value.
func ParseSort(s string) (string, error) {
	if slices.Contains(SortModes, s) {
		return s, nil
	}
	return "", fmt.Errorf("invalid sort mode %q, must be one of (name|size|time=mtime|atime|ctime|extension)", s)
}

// Sort orders entries, given in walk order, by mode (stable: equal keys
// keep walk order), reversed with reverse. "name" keeps walk order.
func Sort(entries []Entry, mode string, reverse bool) {
	var key func(a, b Entry) int
	switch mode {
	case "size":
		key = func(a, b Entry) int { return cmp.Compare(a.Node.Size, b.Node.Size) }
	case "time", "mtime":
		key = func(a, b Entry) int { return a.Node.ModTime.Compare(b.Node.ModTime) }
	case "atime":
		key = func(a, b Entry) int { return a.Node.AccessTime.Compare(b.Node.AccessTime) }
	case "ctime":
		key = func(a, b Entry) int { return a.Node.ChangeTime.Compare(b.Node.ChangeTime) }
	case "extension":
		key = func(a, b Entry) int { return strings.Compare(extension(a.Node.Name), extension(b.Node.Name)) }
	}
	if key != nil {
		slices.SortStableFunc(entries, key)
	}
	if reverse {
		slices.Reverse(entries)
	}
}

// extension is a name's extension without the dot; "" for none, and for
// names such as ".profile" that only start with one.
func extension(name string) string {
	ext := path.Ext(name)
	if ext == name {
		return ""
	}
	return strings.TrimPrefix(ext, ".")
}
