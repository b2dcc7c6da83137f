package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dumpFixture is a repository holding one restic backup of the sample
// tree at src.
type dumpFixture struct {
	src string
	env []string
}

func newDumpFixture(t *testing.T) dumpFixture {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	makeSampleTree(t, src)
	env := newTestRepo(t)
	restic(t, env, "backup", "-q", src)
	return dumpFixture{src: src, env: env}
}

// newTestRepo creates an empty repository and returns its environment.
// cairn creates it, with a key that is cheap to open for both tools
// (restic's own init spends seconds calibrating its key).
func newTestRepo(t *testing.T) []string {
	t.Helper()
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")
	return env
}

// TestDumpFile: a file's dump is restic's, byte for byte.
func TestDumpFile(t *testing.T) {
	fx := newDumpFixture(t)
	for _, name := range []string{"small.txt", "empty", "multi-chunk.bin", "bad-utf8-\xff\xfe"} {
		p := filepath.Join(fx.src, name)
		args := []string{"--no-lock", "dump", "latest", p} // see compareFind
		if got, want := cairn(t, fx.env, args...), restic(t, fx.env, args...); got != want {
			t.Errorf("dump %q: %d bytes differ from restic's %d", name, len(got), len(want))
		}
	}
	target := filepath.Join(t.TempDir(), "out")
	cairn(t, fx.env, "dump", "--target", target, "latest", filepath.Join(fx.src, "text/compressible.log"))
	if got, want := sumFile(t, target), sumFile(t, filepath.Join(fx.src, "text/compressible.log")); got != want {
		t.Error("dump --target wrote other content than the source file")
	}

	for _, bad := range []string{"fifo", "link", "no/such/file"} {
		if res := run(t, fx.env, cairnBin, "dump", "latest", filepath.Join(fx.src, bad)); res.code == 0 {
			t.Errorf("dump of %s succeeded:\n%v", bad, res)
		}
	}
}

// TestDumpTar: the tar of a directory, extracted by GNU tar, is the source
// tree again, and names the same entries as restic's.
func TestDumpTar(t *testing.T) {
	fx := newDumpFixture(t)
	archive := filepath.Join(t.TempDir(), "dump.tar")
	cairn(t, fx.env, "dump", "--target", archive, "latest", fx.src)

	dst := t.TempDir()
	if res := run(t, nil, "tar", "--xattrs", "--xattrs-include=user.*", "-xpf", archive, "-C", dst); res.code != 0 {
		t.Fatalf("tar -x: %v", res)
	}
	// Every entry type of the sample tree round-trips: files, directories,
	// symlinks, the hardlink, the fifo, devices, modes, owners, nanosecond
	// mtimes and user xattrs.
	compareTrees(t, fx.src, filepath.Join(dst, fx.src))

	names := func(tool string, args ...string) []string {
		tarball := filepath.Join(t.TempDir(), tool+".tar")
		var out string
		if tool == "restic" {
			out = restic(t, fx.env, args...)
		} else {
			out = cairn(t, fx.env, args...)
		}
		must(t, os.WriteFile(tarball, []byte(out), 0o600))
		res := run(t, nil, "tar", "-tf", tarball)
		if res.code != 0 {
			t.Fatalf("tar -t: %v", res)
		}
		return strings.Split(strings.TrimSpace(res.stdout), "\n")
	}
	want := names("restic", "--no-lock", "dump", "latest", fx.src)
	got := names("cairn", "--no-lock", "dump", "latest", fx.src)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tar entries (-restic +cairn):\n%s", d)
	}
	if !slices.Contains(got, strings.TrimPrefix(fx.src, "/")+"/deep/a/b/c/d/leaf") {
		t.Errorf("entries are not named by their snapshot path: %q", got[:3])
	}

	// "/" dumps the whole snapshot, from the top-level directory down.
	whole := names("cairn", "dump", "latest", "/")
	if first := strings.SplitN(strings.TrimPrefix(fx.src, "/"), "/", 2)[0] + "/"; whole[0] != first {
		t.Errorf("dump / starts with %q, want %q", whole[0], first)
	}
	if !slices.Contains(whole, got[0]) || len(whole) <= len(got) {
		t.Errorf("dump / has %d entries, the directory %d", len(whole), len(got))
	}
}

// TestDumpZip: the zip of a directory holds the files, directories and
// symlinks of restic's, with the same contents.
func TestDumpZip(t *testing.T) {
	fx := newDumpFixture(t)
	read := func(b string) map[string]string {
		zr, err := zip.NewReader(strings.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, f := range zr.File {
			rc, err := f.Open()
			must(t, err)
			var buf bytes.Buffer
			_, err = io.Copy(&buf, rc)
			must(t, err)
			must(t, rc.Close())
			out[f.Name] = buf.String()
		}
		return out
	}
	got := read(cairn(t, fx.env, "dump", "--archive", "zip", "latest", fx.src))
	want := read(restic(t, fx.env, "--no-lock", "dump", "--archive", "zip", "latest", fx.src))
	// restic 0.14 writes fifos and devices directly in the dumped directory
	// as empty entries (and drops those further down); zip cannot hold
	// them, so cairn leaves them out.
	prefix := strings.TrimPrefix(fx.src, "/") + "/"
	for _, special := range []string{"fifo", "chardev", "blockdev"} {
		delete(want, prefix+special)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("zip contents (-restic +cairn):\n%.2000s", d)
	}
	if _, ok := got[prefix+"deep/a/b/c/d/leaf"]; !ok {
		t.Errorf("zip lacks %sdeep/a/b/c/d/leaf", prefix)
	}
}
