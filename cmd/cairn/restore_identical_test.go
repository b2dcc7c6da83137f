package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// referenceRestic is restic 0.19.1 where the machine has it, else the
// restic the other tests use.
func referenceRestic(t *testing.T) string {
	t.Helper()
	const ref = "/work/shared/bin/restic-0.19.1"
	if _, err := os.Stat(ref); err == nil {
		return ref
	}
	return resticBin(t)
}

// identicalSource builds a tree with every kind of entry a restore must
// get right: small and multi-chunk files, empty files, many files in one
// directory, modes (setuid included), nanosecond mtimes, symlinks
// (relative, absolute, dangling), a hardlink group, an extended attribute,
// a sparse file and a file of zeros that --sparse may turn into holes.
func identicalSource(t *testing.T, src string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 14))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	put := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	put("empty", nil, 0o644)
	put("sub/empty2", nil, 0o600)
	put("one-byte", []byte("x"), 0o644)
	put("small.txt", []byte("a small file\n"), 0o640)
	put("readonly", random(5000), 0o444)
	put("exec.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	put("setuid", random(300), 0o4755)
	put("big/three-mib.bin", random(3<<20), 0o644)
	put("big/eleven-mib.bin", random(11<<20+12345), 0o600)
	// Compressible and repetitive: one chunk stored twice in the plan.
	log := bytes.Repeat([]byte("2026-12-03 line of a log that repeats\n"), 60000)
	put("big/log.txt", log, 0o644)
	put("big/log-copy.txt", log, 0o644)
	for i := range 300 {
		put(fmt.Sprintf("many/f%03d", i), random(rng.IntN(9000)), 0o644)
	}
	put("zeros.bin", make([]byte, 12<<20), 0o644)

	// Sparse: 16 MiB hole, 1 MiB of data, 16 MiB hole at the end.
	sp := put("sparse.img", nil, 0o644)
	f, err := os.OpenFile(sp, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(random(1<<20), 16<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(33 << 20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	hl := put("links/a", random(7000), 0o644)
	for _, n := range []string{"links/b", "links/deeper/c"} {
		q := filepath.Join(src, n)
		if err := os.MkdirAll(filepath.Dir(q), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(hl, q); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{
		"links/rel":      "../small.txt",
		"links/abs":      filepath.Join(src, "exec.sh"),
		"links/dangling": "does/not/exist",
	} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Setxattr(filepath.Join(src, "small.txt"), "user.cairn.test", []byte("value"), 0); err != nil {
		t.Fatalf("setxattr: %v (the test needs user xattrs on %s)", err, src)
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(filepath.Join(src, "one-byte"), 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "emptydir"), 0o700); err != nil {
		t.Fatal(err)
	}

	// Distinct nanosecond mtimes on everything, deepest first so that
	// setting a child's does not move its directory's.
	var paths []string
	if err := filepath.Walk(src, func(p string, _ os.FileInfo, err error) error {
		paths = append(paths, p)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	base := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for i, p := range paths {
		mt := base.Add(time.Duration(i)*time.Hour + time.Duration(i*7919+1)*time.Nanosecond)
		ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// describeIdentical is describeTreeWith for TestRestoreIdentical: symlink
// times too, data maps when ranges is set, and without root itself (the
// restore target's own metadata is not part of the snapshot).
func describeIdentical(t *testing.T, root string, ranges bool) map[string]fileFacts {
	t.Helper()
	m := describeTreeWith(t, root, describeOpts{symlinkTimes: true, dataMaps: ranges})
	delete(m, ".")
	return m
}

// dataMap describes which byte ranges of a file hold data (SEEK_DATA /
// SEEK_HOLE) and how many 512-byte blocks it has allocated.
func dataMap(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	var b strings.Builder
	for off := int64(0); off < fi.Size(); {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			t.Fatalf("SEEK_DATA %s at %d: %v", p, off, err)
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			t.Fatalf("SEEK_HOLE %s at %d: %v", p, data, err)
		}
		fmt.Fprintf(&b, "[%d,%d)", data, hole)
		off = hole
	}
	return b.String()
}

// sameEntries fails for every entry that differs between want and got.
func sameEntries(t *testing.T, what string, want, got map[string]fileFacts) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: %s is missing", what, p)
		case w != g:
			t.Errorf("%s: %s differs:\nwant %+v\ngot  %+v", what, p, w, g)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %s is extra (not in the source)", what, p)
		}
	}
}

// TestRestoreIdentical backs a tree up with restic, restores it with
// cairn and with restic from that repository, without and with --sparse,
// and requires every entry to match the source and restic's restore:
// content, size, mode, mtime, owner, symlink targets, hardlinks, empty
// files, xattrs; with --sparse, the same data/hole map as restic's (zero
// chunks stay holes, and the source's holes too) and no more allocated
// blocks than restic's.
func TestRestoreIdentical(t *testing.T) {
	ref := referenceRestic(t)
	src := filepath.Join(t.TempDir(), "src")
	identicalSource(t, src)
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	env = append(env, "RESTIC_CACHE_DIR="+t.TempDir())
	resticInit(t, env)
	if res := run(t, env, ref, "backup", "-q", src); res.code != 0 {
		t.Fatalf("restic backup: %v", res)
	}
	want := describeIdentical(t, src, false)

	restore := func(bin string, sparse bool) string {
		dst := filepath.Join(t.TempDir(), "dst")
		args := []string{"restore", "latest:" + src, "--target", dst}
		if sparse {
			args = append(args, "--sparse")
		}
		if res := run(t, env, bin, args...); res.code != 0 {
			t.Fatalf("%s %v: %v", filepath.Base(bin), args, res)
		}
		return dst
	}
	for _, sparse := range []bool{false, true} {
		t.Run(fmt.Sprintf("sparse=%v", sparse), func(t *testing.T) {
			c, r := restore(cairnBin, sparse), restore(ref, sparse)
			gotC := describeIdentical(t, c, sparse)
			gotR := describeIdentical(t, r, sparse)
			// Against the source: all but the data maps (the source's
			// holes are its own).
			strip := func(m map[string]fileFacts) map[string]fileFacts {
				out := map[string]fileFacts{}
				for k, v := range m {
					v.ranges = ""
					out[k] = v
				}
				return out
			}
			sameEntries(t, "cairn vs source", want, strip(gotC))
			sameEntries(t, "restic vs source", want, strip(gotR))
			sameEntries(t, "cairn vs restic", gotR, gotC)
			if !sparse {
				return
			}
			for _, name := range []string{"sparse.img", "zeros.bin"} {
				var sc, sr unix.Stat_t
				if err := unix.Stat(filepath.Join(c, name), &sc); err != nil {
					t.Fatal(err)
				}
				if err := unix.Stat(filepath.Join(r, name), &sr); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: cairn %d blocks %s, restic %d blocks %s", name, sc.Blocks, gotC[name].ranges, sr.Blocks, gotR[name].ranges)
				if sc.Blocks > sr.Blocks {
					t.Errorf("%s: cairn allocated %d blocks, restic %d", name, sc.Blocks, sr.Blocks)
				}
				// Far fewer blocks than the size: the zeros are holes.
				if sc.Blocks*512 >= sc.Size/2 {
					t.Errorf("%s: %d blocks allocated for %d bytes, want the zero runs left as holes", name, sc.Blocks, sc.Size)
				}
			}
		})
	}
}
