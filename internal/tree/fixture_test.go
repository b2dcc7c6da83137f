//go:build linux

package tree_test

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// writeSource fills dir with every kind of entry restic records. Parts the
// system refuses (xattrs, devices, chown without root) are logged and left
// out. All times are set last, children before parents, with nanoseconds;
// access times lie an hour in the future so that no read moves them
// (relatime only updates an atime older than mtime or ctime).
func writeSource(t *testing.T, dir string) {
	t.Helper()
	root := os.Geteuid() == 0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		must(os.WriteFile(p(name), []byte(content), 0o644))
		must(os.Chmod(p(name), mode))
	}

	must(os.MkdirAll(p("sub/deeper"), 0o755))
	must(os.Mkdir(p("emptydir"), 0o755))
	must(os.Chmod(p("emptydir"), 0o777|os.ModeSticky))
	write("empty", "", 0o644)
	write("small", "hello, world\n", 0o644)
	write("sub/inner.txt", "inner\n", 0o600)
	write("sub/deeper/leaf", "leaf\n", 0o644)
	for i, name := range specialNames {
		write(name, strings.Repeat("x", i), 0o644)
	}
	// Several chunks (the chunker's minimum is 512 KiB).
	big := make([]byte, 3<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(big)
	write("big.bin", string(big), 0o644)

	write("setuid", "s", 0o755|os.ModeSetuid)
	write("setgid", "g", 0o750|os.ModeSetgid)
	write("exec", "#!/bin/sh\n", 0o700)
	if root { // others could not read it
		write("mode0", "secret", 0)
	}

	write("hl-a", "shared\n", 0o644)
	must(os.Link(p("hl-a"), p("hl-b")))
	must(os.Symlink("small", p("link")))
	must(os.Symlink("sub", p("dirlink")))
	must(os.Symlink("/nonexistent/cairn-target", p("dangling")))
	must(os.Symlink("t\b\f\xfe<&>\u2028\x7f", p("oddlink")))
	must(syscall.Mkfifo(p("fifo"), 0o640))

	l, err := net.Listen("unix", p("sock"))
	if err != nil {
		t.Logf("no unix socket: %v", err)
	} else {
		t.Cleanup(func() { l.Close() })
	}

	if root {
		must(os.Chown(p("small"), 65534, 65534))     // nobody:nogroup
		must(os.Chown(p("hl-a"), 12345, 23456))      // no names
		must(os.Lchown(p("dangling"), 65534, 12345)) // symlink itself
		for _, dev := range []struct {
			name string
			mode uint32
			rdev int
		}{{"chardev", unix.S_IFCHR | 0o620, int(unix.Mkdev(1, 3))}, {"blockdev", unix.S_IFBLK | 0o600, int(unix.Mkdev(7, 0))}} {
			if err := unix.Mknod(p(dev.name), dev.mode, dev.rdev); err != nil {
				t.Logf("no %s: %v", dev.name, err)
			}
		}
	}

	if err := setXattrs(t, dir, root); err != nil {
		t.Logf("extended attributes left out: %v", err)
	}

	setTimes(t, dir)
}

// setXattrs sets user.* attributes in an unsorted order (restic keeps the
// kernel's order), an empty and a binary value, a value larger than a page
// of the first read buffer, and, as root, trusted.* ones on a symlink, a fifo
// and a device (where user.* is not allowed).
func setXattrs(t *testing.T, dir string, root bool) error {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	set := func(path, name, value string) error {
		err := unix.Lsetxattr(path, name, []byte(value), 0)
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			return errors.Join(errSkip, err)
		}
		if err != nil {
			t.Fatalf("lsetxattr %s %s: %v", path, name, err)
		}
		return nil
	}
	big := strings.Repeat("0123456789abcdef", 190)
	for _, a := range [][2]string{
		{"user.zz", "1"}, {"user.aa", "2"}, {"user.empty", ""}, {"user.bin", "\x00\xff<&>"},
		{"user.ü<&>\x7f", "name"}, {"user.big", big},
	} {
		if err := set(p("small"), a[0], a[1]); err != nil {
			return err
		}
	}
	if err := set(p("sub"), "user.dir", "d"); err != nil {
		return err
	}
	if root {
		if err := set(p("link"), "trusted.onlink", "restic ignores this"); err != nil {
			t.Logf("no xattr on symlink: %v", err)
		}
		for _, name := range []string{"fifo", "chardev"} {
			if _, err := os.Lstat(p(name)); err != nil {
				continue
			}
			if err := set(p(name), "trusted."+name, "f"); err != nil {
				t.Logf("no xattr on %s: %v", name, err)
			}
		}
	}
	return nil
}

// setTimes gives every entry below dir (and dir) distinct times with
// nanoseconds, a few far in the past or future, children first.
func setTimes(t *testing.T, dir string) {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		paths = append(paths, path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(paths) // children before their parents
	base := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	future := time.Now().Add(time.Hour)
	special := map[string]time.Time{
		"small":   time.Date(1902, 1, 1, 0, 0, 0, 500, time.UTC),
		"empty":   time.Date(2400, 2, 29, 12, 0, 0, 1, time.UTC),
		"big.bin": time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i, path := range paths {
		mtime := base.Add(time.Duration(i) * 1000001001)
		if m, ok := special[filepath.Base(path)]; ok {
			mtime = m
		}
		atime := future.Add(time.Duration(i) * 7)
		ats, err1 := unix.TimeToTimespec(atime)
		mts, err2 := unix.TimeToTimespec(mtime)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		ts := []unix.Timespec{ats, mts}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatalf("set times of %s: %v", path, err)
		}
	}
}
