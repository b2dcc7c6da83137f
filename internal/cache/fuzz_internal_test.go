package cache

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

const fuzzID = "3f0c4a8f6a4e1d2b9c7e5f3a1b0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"

// FuzzEntryName: a name the cache takes as an entry (a handle it maps to
// a path) is a file ID in its one spelling, 64 lower-case hex digits; its
// path lies in the type's directory, in the subdirectory of its first two
// digits; it is never taken for a temporary or lock file by sweeps; and
// the names of the cache's own temporary and lock files are never entries.
func FuzzEntryName(f *testing.F) {
	for _, s := range []string{fuzzID, strings.ToUpper(fuzzID), fuzzID[:63], fuzzID + "0", "..", ".", "ab", "a/", `..\x`,
		tmpPrefix + fuzzID[:16], fuzzID + lockSuffix, fuzzID[:62] + "/.", "", strings.Repeat("g", 64)} {
		f.Add(s)
	}
	c := &Cache{Dir: filepath.Join("/base", fuzzID)}
	types := []backend.FileType{backend.PackFile, backend.IndexFile, backend.SnapshotFile}
	f.Fuzz(func(t *testing.T, name string) {
		valid := validName(name)
		if valid {
			b, err := hex.DecodeString(name)
			if err != nil || len(b) != 32 || hex.EncodeToString(b) != name {
				t.Fatalf("validName(%q) = true, but it is not the hex of a 32-byte ID", name)
			}
			if isJunk(name) {
				t.Errorf("isJunk(%q) = true for an entry name: sweeps would remove it", name)
			}
		}
		for _, typ := range types {
			p, ok := c.path(backend.Handle{Type: typ, Name: name})
			if ok != valid {
				t.Fatalf("path(%v %q) accepted = %v, but validName = %v", typ, name, ok, valid)
			}
			if !ok {
				continue
			}
			dir, _ := c.typeDir(typ)
			if want := filepath.Join(dir, name[:2], name); p != want {
				t.Errorf("path(%v %q) = %s, want %s", typ, name, p, want)
			}
		}
		if p, ok := c.path(backend.Handle{Type: backend.LockFile, Name: name}); ok {
			t.Errorf("path of lock file %q = %s: lock files are never cached", name, p)
		}
		for _, own := range []string{tmpPrefix + name, name + lockSuffix} {
			if validName(own) || !isJunk(own) {
				t.Errorf("the cache's own file %q: validName = %v, isJunk = %v", own, validName(own), isJunk(own))
			}
		}
	})
}

// FuzzLeftoverName: a directory name parseLeftover accepts is exactly what
// RemoveDir makes from its parts (so RemoveLeftovers only ever removes
// such directories), and never one ListDirs takes for a repository's
// directory.
func FuzzLeftoverName(f *testing.F) {
	for _, s := range []string{leftoverName(fuzzID, strconv.FormatInt(time.Now().UnixNano(), 10)), fuzzID + ".removing-",
		fuzzID + ".removing-x", fuzzID + ".removing-1.removing-2", "x.removing-1", fuzzID, strings.ToUpper(fuzzID) + ".removing-007",
		fuzzID + ".removing-1\n", fuzzID + ".removing-٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, ns, ok := parseLeftover(name)
		if repoIDPattern.MatchString(name) && ok {
			t.Fatalf("%q is both a repository directory and a leftover", name)
		}
		if !ok {
			if id != "" || ns != "" {
				t.Errorf("parseLeftover(%q) rejected it but returned %q, %q", name, id, ns)
			}
			return
		}
		if got := leftoverName(id, ns); got != name {
			t.Errorf("parseLeftover(%q) = %q, %q, which make %q", name, id, ns, got)
		}
		if !repoIDPattern.MatchString(id) {
			t.Errorf("parseLeftover(%q): repository ID %q is not one", name, id)
		}
		for _, r := range ns {
			if r < '0' || r > '9' {
				t.Errorf("parseLeftover(%q): time %q is not decimal digits", name, ns)
				break
			}
		}
	})
}

// FuzzReadVersion: whatever bytes a version file holds, readVersion never
// panics and agrees with parseVersion, and a version it accepts is the
// number written in the file.
func FuzzReadVersion(f *testing.F) {
	for _, s := range []string{"1", "1\n", " 2 ", "-1", "+1", "0x1", "1e3", "99999999999999999999", "１", "1 2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if strings.TrimSpace(string(b)) == "" {
			return // waited for, then taken as Version: TestOpenVersionBeingWritten
		}
		vfile := filepath.Join(t.TempDir(), "version") // see FuzzCachedLoad
		if err := os.WriteFile(vfile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		v, err := readVersion(vfile)
		pv, ok := parseVersion(b)
		if (err == nil) != ok || v != map[bool]int{true: pv}[ok] {
			t.Fatalf("readVersion(%q) = %d, %v; parseVersion = %d, %v", b, v, err, pv, ok)
		}
		if ok {
			again, ok := parseVersion([]byte(strconv.Itoa(v)))
			if !ok || again != v {
				t.Errorf("version %d from %q does not read back from %q", v, b, strconv.Itoa(v))
			}
		}
	})
}
