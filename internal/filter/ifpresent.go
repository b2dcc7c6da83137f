package filter

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The tag that marks a cache directory (https://bford.info/cachedir/), as
// --exclude-caches looks for it.
const (
	CacheDirTagName   = "CACHEDIR.TAG"
	CacheDirSignature = "Signature: 8a477f597d28d172789f06886806bc55"
)

// IsCacheDir reports whether dir holds a CACHEDIR.TAG file that starts with
// the standard signature. For --exclude-caches, restic keeps such a
// directory and its CACHEDIR.TAG, and leaves out everything else in it.
func IsCacheDir(dir string) bool {
	return IfPresent{name: CacheDirTagName, header: CacheDirSignature}.Excludes(dir)
}

// IfPresent is a parsed --exclude-if-present spec: a directory that holds
// the named file, starting with the header if one is given, has its
// contents left out. The directory itself and the tag file are kept.
type IfPresent struct {
	name   string
	header string
}

// ParseIfPresent parses "filename" or "filename:header". The filename is
// taken literally (no wildcards) and is relative to the directory tested; the
// header, which may itself hold colons, must be the first bytes of the file.
// An empty filename is an error.
func ParseIfPresent(spec string) (IfPresent, error) {
	name, header, _ := strings.Cut(spec, ":")
	if name == "" {
		return IfPresent{}, fmt.Errorf("exclude-if-present %q: no file name", spec)
	}
	return IfPresent{name: name, header: header}, nil
}

// Filename returns the name of the tag file, which a backup keeps when it
// leaves out the rest of the directory.
func (p IfPresent) Filename() string { return p.name }

// Excludes reports whether dir holds the tag file (with the header, if
// any). A file that cannot be read counts as absent.
func (p IfPresent) Excludes(dir string) bool {
	if p.name == "" {
		return false
	}
	name := filepath.Join(dir, p.name)
	if p.header == "" {
		_, err := os.Lstat(name)
		return err == nil
	}
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, len(p.header))
	if _, err := io.ReadFull(f, buf); err != nil {
		return false
	}
	return bytes.Equal(buf, []byte(p.header))
}
