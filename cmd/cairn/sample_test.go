package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeSampleTree fills dir with every kind of entry a backup must keep:
// empty, small, multi-chunk, compressible and sparse files, empty and
// nested directories, symlinks (one dangling), hardlinks, a fifo, names
// that are not UTF-8 or are 255 bytes long, odd modes, extended attributes
// and nanosecond mtimes.
func makeSampleTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	writeFile(t, dir, "empty", "")
	writeFile(t, dir, "small.txt", "hello, cairn\n")
	writeFile(t, dir, "multi-chunk.bin", random(3<<20+12345))
	writeFile(t, dir, "text/compressible.log", strings.Repeat("2026-11-25 INFO request served in 12ms\n", 40000))
	writeFile(t, dir, "deep/a/b/c/d/leaf", "leaf")
	writeFile(t, dir, "special \"quotes\" \\ <&> é ü 日本", "odd name")
	writeFile(t, dir, strings.Repeat("L", 255), "long name")
	writeFile(t, dir, "bad-utf8-\xff\xfe", "not utf-8")
	must(t, os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o755))

	sparse := filepath.Join(dir, "sparse.img")
	f, err := os.Create(sparse)
	must(t, err)
	_, err = f.WriteAt([]byte("start"), 0)
	must(t, err)
	_, err = f.WriteAt([]byte("end"), 20<<20)
	must(t, err)
	must(t, f.Close())

	must(t, os.Symlink("small.txt", filepath.Join(dir, "link")))
	must(t, os.Symlink("does/not/exist", filepath.Join(dir, "dangling")))
	must(t, os.Link(filepath.Join(dir, "small.txt"), filepath.Join(dir, "hardlink")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o640))

	if os.Geteuid() == 0 {
		// Device nodes need root to create (and to restore).
		must(t, unix.Mknod(filepath.Join(dir, "chardev"), unix.S_IFCHR|0o640, int(unix.Mkdev(1, 3))))
		must(t, unix.Mknod(filepath.Join(dir, "blockdev"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 200))))
	}

	setuid := writeFile(t, dir, "setuid", "#!/bin/sh\n")
	must(t, os.Chmod(setuid, 0o4755))
	sticky := filepath.Join(dir, "sticky")
	must(t, os.Mkdir(sticky, 0o755))
	must(t, os.Chmod(sticky, 0o1777))
	must(t, os.Chmod(writeFile(t, dir, "no-perms", "secret"), 0))

	xf := writeFile(t, dir, "xattr.txt", "with attributes")
	if err := unix.Lsetxattr(xf, "user.cairn", []byte("value"), 0); err != nil {
		t.Fatalf("setxattr (the test file system must support user xattrs): %v", err)
	}
	must(t, unix.Lsetxattr(xf, "user.another", []byte{0, 1, 2, 255}, 0))
	must(t, unix.Lsetxattr(filepath.Join(dir, "text"), "user.dir", []byte("on a dir"), 0))

	// Distinct nanosecond mtimes, set last, deepest first, so that no
	// later change moves a directory's mtime.
	var paths []string
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 && p != dir {
			paths = append(paths, p)
		}
		return err
	}))
	for i := len(paths) - 1; i >= 0; i-- {
		ts := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour + time.Duration(i*7919)*time.Nanosecond)
		must(t, os.Chtimes(paths[i], ts, ts))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
