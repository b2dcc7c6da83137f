package restorer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/restorer"
	"github.com/cairn-backup/cairn/internal/tree"
)

// fixture is a source tree backed up into a local repository.
type fixture struct {
	src, repo string
	top       id.ID // the snapshot's root tree
	root      id.ID // the tree holding src's entries
	entries   []entry
}

func newFixture(t *testing.T, entries []entry) fixture {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, entries)
	repo := initRepo(t)
	top, root := backup(t, repo, src)
	return fixture{src: src, repo: repo, top: top, root: root, entries: entries}
}

func (f fixture) restore(t *testing.T, ctx context.Context, o restorer.Options) (restorer.Summary, map[string]error, error) {
	t.Helper()
	return f.restoreTree(t, ctx, f.root, o)
}

func (f fixture) restoreTree(t *testing.T, ctx context.Context, root id.ID, o restorer.Options) (restorer.Summary, map[string]error, error) {
	t.Helper()
	rep := &errReporter{}
	o.Progress = rep.progress()
	r := openRepo(t, f.repo, nil)
	sum, err := restorer.New(r, o).Run(ctx, root)
	return sum, rep.get(), err
}

// blocksOf returns the bytes p occupies on disk.
func blocksOf(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// holesSupported reports whether the file system under dir keeps holes.
func holesSupported(t *testing.T, dir string) bool {
	t.Helper()
	p := filepath.Join(dir, "hole-probe")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte{1}, 8<<20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Remove(p) }()
	return blocksOf(t, p) < 1<<20
}

// TestRunRestoresEverything backs up a varied tree and restores it into an
// empty target, with and without holes for zero runs: content, modes,
// mtimes, symlink targets and hard links must come back as they were.
func TestRunRestoresEverything(t *testing.T) {
	f := newFixture(t, sampleTree())
	files := 0
	for _, e := range f.entries {
		if e.kind == 'f' || e.kind == 'h' {
			files++
		}
	}
	for _, tc := range []struct {
		name   string
		sparse bool
	}{
		{"dense", false},
		{"sparse", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			sum, errs, err := f.restore(t, t.Context(), restorer.Options{Target: dst, Sparse: tc.sparse})
			if err != nil || len(errs) > 0 {
				t.Fatalf("Run(sparse=%v) = %v, reported %v; want no error", tc.sparse, err, errs)
			}
			compareTrees(t, f.src, dst)
			if sum.Files != files || sum.Errors != 0 || sum.FilesSkipped != 0 {
				t.Errorf("Run(sparse=%v) summary = %+v, want Files %d, no errors, none skipped", tc.sparse, sum, files)
			}
			a, errA := os.Stat(filepath.Join(dst, "medium.bin"))
			b, errB := os.Stat(filepath.Join(dst, "a", "hardlink"))
			if errA != nil || errB != nil || !os.SameFile(a, b) {
				t.Errorf("hard link a/hardlink: SameFile(medium.bin) = false (%v, %v), want true", errA, errB)
			}
			if tc.sparse && holesSupported(t, dst) {
				got, size := blocksOf(t, filepath.Join(dst, "zeros.bin")), int64(len(f.entries[6].data))
				if got > size-(3<<20) {
					t.Errorf("disk usage(zeros.bin, sparse) = %d bytes, want at most %d (most of the 5 MiB zero run as a hole)", got, size-(3<<20))
				}
			}
			if t.Failed() {
				return
			}
			// A second restore over the result finds everything in place.
			sum, errs, err = f.restore(t, t.Context(), restorer.Options{Target: dst, Sparse: tc.sparse})
			if err != nil || len(errs) > 0 {
				t.Fatalf("second Run = %v, reported %v; want no error", err, errs)
			}
			if sum.BytesWritten != 0 {
				t.Errorf("second Run BytesWritten = %d, want 0 (nothing differs)", sum.BytesWritten)
			}
			compareTrees(t, f.src, dst)
		})
	}
}

// TestRunOverwriteModes restores over a target whose files were changed in
// different ways and checks, for each overwrite mode, which files are
// replaced by the snapshot's version and which are left alone.
func TestRunOverwriteModes(t *testing.T) {
	f := newFixture(t, sampleTree())
	snapTime := func(name string) time.Time {
		for _, e := range f.entries {
			if e.path == name {
				return e.modTime
			}
		}
		t.Fatalf("no entry %s", name)
		return time.Time{}
	}
	// How the target differs from the snapshot, file by file.
	type change struct {
		name   string
		mutate func(t *testing.T, p string) // nil: remove the file
	}
	changes := []change{
		// Other content and size, older mtime.
		{"tiny.txt", func(t *testing.T, p string) {
			writeAt(t, p, []byte("something else entirely"), snapTime("tiny.txt").Add(-time.Hour))
		}},
		// Other content, mtime newer than the snapshot's.
		{"script.sh", func(t *testing.T, p string) {
			writeAt(t, p, []byte("#!/bin/sh\necho changed\n"), snapTime("script.sh").Add(48*time.Hour))
		}},
		// Other content of the same size with the snapshot's mtime.
		{"a/b/c/deep.txt", func(t *testing.T, p string) {
			writeAt(t, p, []byte("DEEP DOWN\n"), snapTime("a/b/c/deep.txt"))
		}},
		// One byte flipped in the middle of a multi-chunk file, old mtime.
		{"big.bin", func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			writeAt(t, p, b, snapTime("big.bin").Add(-time.Minute))
		}},
		// Gone from the target.
		{"medium.bin", nil},
	}
	// Files the change list leaves alone are identical: always compares
	// their chunks and writes nothing, the other modes skip them.
	for _, tc := range []struct {
		mode        string
		kept        []string // changed files that must keep the target's version
		wantSkipped int
	}{
		{"always", nil, 0},
		// empty, readonly, zeros.bin, a/b/note.log, a/top.log are
		// identical (5), plus deep.txt (same size and mtime).
		{"if-changed", []string{"a/b/c/deep.txt"}, 6},
		// identical ones (5), deep.txt (same mtime), script.sh (newer).
		{"if-newer", []string{"a/b/c/deep.txt", "script.sh"}, 7},
		// every existing file: 5 identical + 4 changed ones; medium.bin is
		// missing and restored, and a/hardlink is linked to it again.
		{"never", []string{"a/b/c/deep.txt", "script.sh", "tiny.txt", "big.bin"}, 9},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			mode, err := restorer.ParseOverwrite(tc.mode)
			if err != nil {
				t.Fatalf("ParseOverwrite(%q) = %v", tc.mode, err)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			if _, errs, err := f.restore(t, t.Context(), restorer.Options{Target: dst}); err != nil || len(errs) > 0 {
				t.Fatalf("first Run = %v, reported %v", err, errs)
			}
			// The hard link is a separate file from here on, so that
			// removing medium.bin does not leave a copy in place.
			if err := os.Remove(filepath.Join(dst, "a", "hardlink")); err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				p := filepath.Join(dst, filepath.FromSlash(c.name))
				if c.mutate == nil {
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
					continue
				}
				c.mutate(t, p)
			}
			before := snapshotOf(t, dst)

			sum, errs, err := f.restore(t, t.Context(), restorer.Options{Target: dst, Overwrite: mode})
			if err != nil || len(errs) > 0 {
				t.Fatalf("Run(overwrite %s) = %v, reported %v; want no error", tc.mode, err, errs)
			}
			want := snapshotOf(t, f.src)
			for _, k := range tc.kept {
				want[k] = before[k]
			}
			// Directories hold the files restored into them: their mtimes
			// come from the snapshot in every mode.
			compareStates(t, want, snapshotOf(t, dst))
			if sum.FilesSkipped != tc.wantSkipped {
				t.Errorf("Run(overwrite %s) FilesSkipped = %d, want %d", tc.mode, sum.FilesSkipped, tc.wantSkipped)
			}
			if tc.mode == "always" {
				// Only what differs is written: tiny.txt, script.sh,
				// deep.txt, medium.bin and one chunk (at most 8 MiB) of big.bin.
				limit := uint64(len(f.entries[4].data) + 8<<20 + 1<<10)
				if sum.BytesWritten > limit || sum.BytesWritten == 0 {
					t.Errorf("Run(overwrite always) BytesWritten = %d, want between 1 and %d", sum.BytesWritten, limit)
				}
			}
		})
	}
}

// writeAt replaces the content of p and sets its mtime.
func writeAt(t *testing.T, p string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	setTimes(t, p, mtime)
}

// TestRunSelect restores with Select functions (as --include and --exclude
// build them) and checks which paths appear in the target.
func TestRunSelect(t *testing.T) {
	f := newFixture(t, sampleTree())
	all := snapshotOf(t, f.src)
	allPaths := func(keep func(string) bool) []string {
		var out []string
		for p := range all {
			if keep(p) {
				out = append(out, p)
			}
		}
		sort.Strings(out)
		return out
	}
	for _, tc := range []struct {
		name   string
		sel    func(p string, isDir bool) (bool, bool)
		want   []string
		intact []string // paths whose metadata must match the source
	}{
		{
			name: "exclude directory a",
			sel: func(p string, isDir bool) (bool, bool) {
				if p == "/a" {
					return false, false
				}
				return true, true
			},
			want: allPaths(func(p string) bool { return p != "a" && !strings.HasPrefix(p, "a/") }),
		},
		{
			name: "exclude *.log",
			sel: func(p string, isDir bool) (bool, bool) {
				if strings.HasSuffix(p, ".log") {
					return false, false
				}
				return true, true
			},
			want: allPaths(func(p string) bool { return !strings.HasSuffix(p, ".log") }),
		},
		{
			name: "include one deep file",
			sel: func(p string, isDir bool) (bool, bool) {
				const want = "/a/b/c/deep.txt"
				if isDir {
					return false, strings.HasPrefix(want, p+"/")
				}
				return p == want, false
			},
			want:   []string{"a", "a/b", "a/b/c", "a/b/c/deep.txt"},
			intact: []string{"a/b/c/deep.txt"},
		},
		{
			name: "include subtree a/b",
			sel: func(p string, isDir bool) (bool, bool) {
				if p == "/a/b" || strings.HasPrefix(p, "/a/b/") {
					return true, true
				}
				return false, isDir && strings.HasPrefix("/a/b", p+"/")
			},
			want:   []string{"a", "a/b", "a/b/c", "a/b/c/deep.txt", "a/b/note.log"},
			intact: []string{"a/b", "a/b/c", "a/b/c/deep.txt", "a/b/note.log"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			_, errs, err := f.restore(t, t.Context(), restorer.Options{Target: dst, Select: tc.sel})
			if err != nil || len(errs) > 0 {
				t.Fatalf("Run(%s) = %v, reported %v; want no error", tc.name, err, errs)
			}
			gotStates := snapshotOf(t, dst)
			var got []string
			for p := range gotStates {
				got = append(got, p)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Run(%s) restored %v, want %v", tc.name, got, tc.want)
			}
			check := tc.intact
			if check == nil {
				check = tc.want // every restored path is complete
			}
			want := map[string]fileState{}
			have := map[string]fileState{}
			for _, p := range check {
				want[p], have[p] = all[p], gotStates[p]
			}
			compareStates(t, want, have)
		})
	}
}

// TestRunNode restores single nodes of the snapshot, as "restore
// snapshot:path" does: a file lands in the target under its name, a
// directory's contents land directly in the target.
func TestRunNode(t *testing.T) {
	f := newFixture(t, sampleTree())
	r := openRepo(t, f.repo, nil)
	all := snapshotOf(t, f.src)
	for _, tc := range []struct {
		snapPath string
		want     map[string]string // target path -> source path
	}{
		{"/big.bin", map[string]string{"big.bin": "big.bin"}},
		{"/a/b", map[string]string{"c": "a/b/c", "c/deep.txt": "a/b/c/deep.txt", "note.log": "a/b/note.log"}},
	} {
		t.Run(strings.ReplaceAll(tc.snapPath, "/", "_"), func(t *testing.T) {
			n := findNode(t, r, f.root, tc.snapPath)
			dst := filepath.Join(t.TempDir(), "dst")
			rep := &errReporter{}
			_, err := restorer.New(r, restorer.Options{Target: dst, Progress: rep.progress()}).RunNode(t.Context(), tc.snapPath, n)
			if err != nil || len(rep.get()) > 0 {
				t.Fatalf("RunNode(%s) = %v, reported %v; want no error", tc.snapPath, err, rep.get())
			}
			want := map[string]fileState{}
			for dp, sp := range tc.want {
				want[dp] = all[sp]
			}
			compareStates(t, want, snapshotOf(t, dst))
		})
	}
	if n := findNode(t, r, f.root, "/a"); n.Type != tree.TypeDir {
		t.Fatalf("node /a has type %q, want dir", n.Type)
	}
}

// cancelTree is many files of a few MiB each, so that a restore reads
// many packs and can be stopped in the middle.
func cancelTree() []entry {
	var out []entry
	for i := range 12 {
		out = append(out, entry{
			path: "d" + string(rune('a'+i%3)) + "/f" + string(rune('a'+i)), kind: 'f',
			data: randomBytes(1<<20+i*97<<10, uint64(100+i)), mode: 0o644, modTime: base.Add(time.Duration(i) * time.Minute),
		})
	}
	return out
}

// TestRunCancelledThenResumed cancels a restore once part of the data has
// been read, checks that no file sits at its final name with wrong
// content, and then runs the restore again: it must complete, produce the
// source tree, leave no temporary files and write only what the first run
// had not written (partial files are resumed, not started over).
func TestRunCancelledThenResumed(t *testing.T) {
	f := newFixture(t, cancelTree())
	var total int64
	for _, e := range f.entries {
		total += int64(len(e.data))
	}
	src := snapshotOf(t, f.src)
	for _, tc := range []struct {
		name     string
		fraction int64 // cancel after total/fraction bytes of packs are read
	}{
		{"early", 8},
		{"half", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			lb, err := localBackend(f.repo)
			if err != nil {
				t.Fatal(err)
			}
			be := &countingBackend{Backend: lb, onLoad: func(n int64) {
				if n >= total/tc.fraction {
					cancel()
				}
			}}
			r := openRepo(t, f.repo, be)
			rep := &errReporter{}
			sum, err := restorer.New(r, restorer.Options{Target: dst, Progress: rep.progress()}).Run(ctx, f.root)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Run = %v (summary %+v), want context.Canceled", err, sum)
			}
			// Whatever is at a final name is complete and right.
			complete := 0
			for p, got := range snapshotOf(t, dst) {
				if strings.HasPrefix(filepath.Base(p), ".") {
					continue // temporary file of an unfinished one
				}
				w, ok := src[p]
				if !ok {
					t.Errorf("cancelled Run left %s, which is not in the source", p)
					continue
				}
				if got.kind == "file" {
					complete++
					if got.size != w.size || got.sum != w.sum {
						t.Errorf("cancelled Run: content(%s) = %d bytes %x, want %d bytes %x", p, got.size, got.sum[:6], w.size, w.sum[:6])
					}
				}
			}
			t.Logf("cancelled after %d of %d bytes: %d complete files, %d bytes written", be.total(), total, complete, sum.BytesWritten)

			sum2, errs, err := f.restore(t, t.Context(), restorer.Options{Target: dst})
			if err != nil || len(errs) > 0 {
				t.Fatalf("Run after cancel = %v, reported %v; want no error", err, errs)
			}
			compareTrees(t, f.src, dst) // also finds left-over temporary files
			// Every chunk the first run wrote is kept, in complete and in
			// unfinished files; the second run writes only the rest.
			if want := uint64(total) - sum.BytesWritten; sum2.BytesWritten != want {
				t.Errorf("Run after cancel BytesWritten = %d, want %d (%d in all, %d written before the cancel)", sum2.BytesWritten, want, total, sum.BytesWritten)
			}
		})
	}
}

// TestRunCorruptPack flips one byte inside each pack file in turn (in a
// copy of the repository) and restores the whole snapshot, into an empty
// target and over older versions of the files: the damage must be
// reported (or fail the run) without a panic, every file at its final name
// must hold either its snapshot content or, untouched, what was there
// before, and no temporary file may be left behind.
func TestRunCorruptPack(t *testing.T) {
	entries := []entry{
		{path: "one.bin", kind: 'f', data: randomBytes(3<<20, 11), mode: 0o644, modTime: base},
		{path: "two.bin", kind: 'f', data: randomBytes(5<<20, 12), mode: 0o644, modTime: base},
		{path: "sub/three.bin", kind: 'f', data: randomBytes(2<<20, 13), mode: 0o600, modTime: base},
		{path: "sub/small.txt", kind: 'f', data: []byte("small and intact\n"), mode: 0o600, modTime: base},
	}
	f := newFixture(t, entries)
	src := snapshotOf(t, f.src)
	old := func(e entry) []byte { return bytes.Repeat([]byte("old "), len(e.data)/4+1) }
	oldSums := map[string][32]byte{}
	for _, e := range entries {
		oldSums[e.path] = sha256.Sum256(old(e))
	}
	packs, err := filepath.Glob(filepath.Join(f.repo, "data", "*", "*"))
	if err != nil || len(packs) < 2 {
		t.Fatalf("packs in %s = %v (%v), want at least 2", f.repo, packs, err)
	}
	for i := range packs {
		rel, _ := filepath.Rel(f.repo, packs[i])
		t.Run("pack"+strconv.Itoa(i), func(t *testing.T) {
			repo := copyDir(t, f.repo)
			p := filepath.Join(repo, rel)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Pack headers are at the end; a third of the way in is a blob.
			b[len(b)/3] ^= 0x40
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, overwrite := range []bool{false, true} {
				dst := filepath.Join(t.TempDir(), "dst")
				under := filepath.Join(dst, f.src) // where src's entries land
				if overwrite {
					for _, e := range entries {
						q := filepath.Join(under, filepath.FromSlash(e.path))
						if err := os.MkdirAll(filepath.Dir(q), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(q, old(e), 0o600); err != nil {
							t.Fatal(err)
						}
					}
				}
				g := fixture{src: f.src, repo: repo}
				sum, errs, err := g.restoreTree(t, t.Context(), f.top, restorer.Options{Target: dst})
				if err == nil && len(errs) == 0 && sum.Errors == 0 {
					t.Errorf("Run(overwrite=%v) with %s damaged = no error, no reports; want the damage noticed", overwrite, rel)
				}
				if len(errs) != sum.Errors {
					t.Errorf("Run(overwrite=%v) Summary.Errors = %d, want %d (the reports: %v)", overwrite, sum.Errors, len(errs), errs)
				}
				if _, err := os.Lstat(under); err != nil {
					continue // a tree above src was damaged: nothing of it restored
				}
				for q, got := range snapshotOf(t, under) {
					w, ok := src[q]
					if !ok {
						t.Errorf("Run(overwrite=%v) left %s, which is not in the snapshot", overwrite, q)
						continue
					}
					if got.kind != "file" || (got.size == w.size && got.sum == w.sum) {
						continue
					}
					if overwrite && got.sum == oldSums[q] {
						continue // left as it was
					}
					t.Errorf("Run(overwrite=%v): content(%s) = %d bytes %x, want %d bytes %x", overwrite, q, got.size, got.sum[:6], w.size, w.sum[:6])
				}
				t.Logf("overwrite=%v: err %v, %d reports", overwrite, err, len(errs))
			}
		})
	}
}

// copyDir copies the regular files and directories below dir into a new
// temporary directory and returns its path.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(dir))
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		q := filepath.Join(out, rel)
		if fi.IsDir() {
			return os.MkdirAll(q, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(q, b, 0o600)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", dir, err)
	}
	return out
}

// TestRunDeleteAndDryRun restores into a target holding entries the
// snapshot does not have: Delete removes them (and only them), DryRun
// changes nothing but counts what a restore would do.
func TestRunDeleteAndDryRun(t *testing.T) {
	f := newFixture(t, sampleTree())
	var files int
	var bytes uint64
	for _, e := range f.entries {
		switch e.kind {
		case 'f':
			files++
			bytes += uint64(len(e.data))
		case 'h':
			files++
		}
	}
	extra := []string{"extra.txt", "a/b/extra-dir/x", "a/extra.log"}
	for _, tc := range []struct {
		name         string
		delete, dry  bool
		wantDeleted  int
		wantExtra    bool // the extra entries are still there
		wantRestored bool // the snapshot's entries are in the target
	}{
		{"delete", true, false, 3, false, true},
		{"keep extra", false, false, 0, true, true},
		{"dry run", false, true, 0, true, false},
		{"dry run with delete", true, true, 3, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			for _, e := range extra {
				p := filepath.Join(dst, filepath.FromSlash(e))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(e), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			sum, errs, err := f.restore(t, t.Context(), restorer.Options{Target: dst, Delete: tc.delete, DryRun: tc.dry})
			if err != nil || len(errs) > 0 {
				t.Fatalf("Run(delete=%v, dry=%v) = %v, reported %v; want no error", tc.delete, tc.dry, err, errs)
			}
			if sum.Deleted != tc.wantDeleted {
				t.Errorf("Run(delete=%v, dry=%v) Deleted = %d, want %d", tc.delete, tc.dry, sum.Deleted, tc.wantDeleted)
			}
			if tc.dry && (sum.Files != files || sum.Bytes != bytes || sum.BytesWritten != 0) {
				t.Errorf("Run(dry) summary = %+v, want Files %d, Bytes %d, BytesWritten 0", sum, files, bytes)
			}
			for _, e := range extra {
				_, err := os.Lstat(filepath.Join(dst, filepath.FromSlash(e)))
				if got := err == nil; got != tc.wantExtra {
					t.Errorf("Run(delete=%v, dry=%v): %s exists = %v, want %v", tc.delete, tc.dry, e, got, tc.wantExtra)
				}
			}
			_, err = os.Lstat(filepath.Join(dst, "big.bin"))
			if got := err == nil; got != tc.wantRestored {
				t.Errorf("Run(delete=%v, dry=%v): big.bin exists = %v, want %v", tc.delete, tc.dry, got, tc.wantRestored)
			}
			if tc.delete && !tc.dry {
				compareTrees(t, f.src, dst)
			}
		})
	}
}

// TestVerify checks that Verify passes a correct restore and reports a
// restored file that was changed afterwards.
func TestVerify(t *testing.T) {
	f := newFixture(t, sampleTree())
	for _, tc := range []struct {
		name    string
		tamper  string // file to change after the restore; "" for none
		wantBad bool
	}{
		{"intact", "", false},
		{"flipped byte", "big.bin", true},
		{"truncated", "zeros.bin", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			rep := &errReporter{}
			res := restorer.New(openRepo(t, f.repo, nil), restorer.Options{Target: dst, Progress: rep.progress()})
			sum, err := res.Run(t.Context(), f.root)
			if err != nil || sum.Errors > 0 {
				t.Fatalf("Run() = %v, %d errors", err, sum.Errors)
			}
			if tc.tamper != "" {
				p := filepath.Join(dst, tc.tamper)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if tc.tamper == "zeros.bin" {
					b = b[:len(b)-1]
				} else {
					b[len(b)-100] ^= 1
				}
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			checked, err := res.Verify(t.Context())
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			if checked == 0 {
				t.Errorf("Verify() checked = 0, want the restored files")
			}
			errs := rep.get()
			_, reported := errs[filepath.Join(dst, tc.tamper)]
			if tc.wantBad && (!reported || len(errs) != 1) {
				t.Errorf("Verify() after changing %s reported %v, want exactly that file", tc.tamper, errs)
			}
			if !tc.wantBad && len(errs) > 0 {
				t.Errorf("Verify() of an intact restore reported %v, want nothing", errs)
			}
		})
	}
}
