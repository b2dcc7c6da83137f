package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// fileFacts is what a restore must reproduce for one path.
type fileFacts struct {
	mode   fs.FileMode
	size   int64
	mtime  int64 // ns; directories and files only
	uid    uint32
	gid    uint32
	target string // symlinks
	rdev   uint64 // devices
	sum    [32]byte
	xattrs string
	link   string // first path (relative) sharing this inode, for hardlinks
	ranges string // data/hole map of regular files, with describeOpts.dataMaps
}

// describeOpts adds facts to describeTree's.
type describeOpts struct {
	symlinkTimes bool // mtimes of symlinks too
	dataMaps     bool // regular files' SEEK_DATA/SEEK_HOLE map (dataMap)
}

// describeTree walks root and records every path's facts, relative to root.
func describeTree(t *testing.T, root string) map[string]fileFacts {
	t.Helper()
	return describeTreeWith(t, root, describeOpts{})
}

// describeTreeWith is describeTree with the facts o adds.
func describeTreeWith(t *testing.T, root string, o describeOpts) map[string]fileFacts {
	t.Helper()
	out := map[string]fileFacts{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		f := fileFacts{mode: fi.Mode(), uid: st.Uid, gid: st.Gid, xattrs: xattrsOf(t, p)}
		switch {
		case fi.Mode().IsRegular():
			f.size = fi.Size()
			f.mtime = fi.ModTime().UnixNano()
			f.sum = sumFile(t, p)
			if o.dataMaps {
				f.ranges = dataMap(t, p)
			}
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					f.link = first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case fi.IsDir():
			f.mtime = fi.ModTime().UnixNano()
		case fi.Mode()&fs.ModeSymlink != 0:
			f.target, _ = os.Readlink(p)
			if o.symlinkTimes {
				f.mtime = fi.ModTime().UnixNano()
			}
		case fi.Mode()&fs.ModeDevice != 0:
			f.rdev = st.Rdev
		}
		out[rel] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sumFile(t *testing.T, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func xattrsOf(t *testing.T, p string) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return ""
	}
	names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	var b bytes.Buffer
	for _, name := range names {
		if !strings.HasPrefix(name, "user.") {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", p, name, err)
		}
		fmt.Fprintf(&b, "%s=%q;", name, v[:m])
	}
	return b.String()
}

// compareTrees fails for every difference between the trees at want and got.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	w, g := describeTree(t, want), describeTree(t, got)
	for p, wf := range w {
		gf, ok := g[p]
		if !ok {
			t.Errorf("%s: missing after restore", p)
			continue
		}
		if p == "." {
			wf.mtime, gf.mtime = 0, 0 // the restore target itself is not part of the snapshot
			wf.mode, gf.mode = 0, 0
			wf.uid, gf.uid, wf.gid, gf.gid = 0, 0, 0, 0
		}
		if wf != gf {
			t.Errorf("%s differs:\nwant %+v\ngot  %+v", p, wf, gf)
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("%s: restored but not in the source", p)
		}
	}
}
