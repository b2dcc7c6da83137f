package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// history is a repository with three restic snapshots of a changing tree:
// ids[0] and ids[1] of src (host h1), ids[2] of src/sub alone (host h2,
// tag t1).
type history struct {
	src string
	env []string
	ids []string
}

// makeHistory backs up src, changes it in every way diff tells apart
// (content, added and removed files and directories, metadata only, a file
// that became a symlink), backs it up again, and backs up src/sub.
func makeHistory(t *testing.T) history {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	rng := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, 2<<20+777)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	for name, content := range map[string]string{
		"a.txt": "alpha", "b.TXT": "bravo", "sub/deep/f.go": "package f", "sub/x": "x",
		"Docs/README.md": "readme", "Docs/guide/intro.md": "intro", "dup1/x": "same", "dup2/x": "same",
		"tolink": "becomes a symlink", "meta.txt": "metadata changes", "hard": "linked", "big.bin": string(big),
	} {
		writeFile(t, src, name, content)
	}
	must(t, os.Symlink("a.txt", filepath.Join(src, "link")))
	must(t, os.Link(filepath.Join(src, "hard"), filepath.Join(src, "hardlink")))
	must(t, syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600))

	env := newTestRepo(t)
	restic(t, env, "backup", "-q", "--host", "h1", "--time", "2024-01-01 10:00:00", src)

	writeFile(t, src, "a.txt", "alpha, changed")
	writeFile(t, src, "new.txt", "new")
	writeFile(t, src, "newdir/n1", "n1")
	must(t, os.RemoveAll(filepath.Join(src, "Docs")))
	must(t, os.Remove(filepath.Join(src, "sub/deep/f.go")))
	must(t, os.Chmod(filepath.Join(src, "meta.txt"), 0o640))
	must(t, os.Remove(filepath.Join(src, "tolink")))
	must(t, os.Symlink("b.TXT", filepath.Join(src, "tolink")))
	restic(t, env, "backup", "-q", "--host", "h1", "--time", "2024-01-02 10:00:00", src)
	restic(t, env, "backup", "-q", "--host", "h2", "--tag", "t1", "--time", "2024-01-03 10:00:00", filepath.Join(src, "sub"))

	h := history{src: src, env: env, ids: snapshotIDs(t, env)}
	if len(h.ids) != 3 {
		t.Fatalf("%d snapshots, want 3", len(h.ids))
	}
	return h
}

// TestDiffMatchesRestic: for two snapshots with every kind of change, in
// both directions and with each output option, diff prints what restic
// prints.
func TestDiffMatchesRestic(t *testing.T) {
	h := makeHistory(t)
	s1, s2, s3 := h.ids[0][:8], h.ids[1], h.ids[2]
	for _, args := range [][]string{
		{s1, s2},
		{"--metadata", s2, s1},
		{"-q", s1, s2},
		{"--json", "--metadata", s1, s2},
		{s1, s3},
	} {
		args = append([]string{"--no-lock", "diff"}, args...) // see compareFind
		got, want := cairn(t, h.env, args...), restic(t, h.env, args...)
		if got != want {
			t.Errorf("diff %v (-restic +cairn):\n%s", args, cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")))
		}
	}
	// Spot checks that the comparison is not vacuous.
	out := cairn(t, h.env, "diff", "--metadata", s1, s2)
	for _, line := range []string{
		"M    " + h.src + "/a.txt", "+    " + h.src + "/newdir/", "+    " + h.src + "/newdir/n1",
		"-    " + h.src + "/Docs/guide/intro.md", "U    " + h.src + "/meta.txt", "TU   " + h.src + "/tolink",
		"Files:           2 new,     3 removed,     1 changed",
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("diff --metadata lacks %q:\n%s", line, out)
		}
	}
}

// TestDiffSubpath compares directories inside snapshots (SNAPSHOT:PATH,
// which restic 0.14 lacks): the listing is restic's for the whole
// snapshots, cut to that directory, with paths relative to it.
func TestDiffSubpath(t *testing.T) {
	h := makeHistory(t)
	var want []string
	for _, l := range strings.Split(restic(t, h.env, "diff", "--metadata", h.ids[0], h.ids[1]), "\n") {
		if mod, p, ok := strings.Cut(l, h.src+"/"); ok && p != "" { // not src itself
			want = append(want, mod+"/"+p)
		}
	}
	out := cairn(t, h.env, "diff", "--metadata", h.ids[0]+":"+h.src, h.ids[1]+":"+h.src)
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 5 && strings.HasPrefix(l[5:], "/") {
			got = append(got, l)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("diff of %s (-restic cut to it +cairn):\n%s", h.src, d)
	}

	// src/sub alone was backed up unchanged after the second snapshot.
	sub := filepath.Join(h.src, "sub")
	same := cairn(t, h.env, "diff", h.ids[1]+":"+sub, h.ids[2]+":"+sub)
	if !strings.Contains(same, "Files:           0 new,     0 removed,     0 changed") || strings.Contains(same, "-    ") {
		t.Errorf("diff of identical directories:\n%s", same)
	}
	if res := run(t, h.env, cairnBin, "diff", h.ids[0]+":"+filepath.Join(h.src, "a.txt"), h.ids[1]); res.code == 0 {
		t.Errorf("diff of a file path succeeded:\n%v", res)
	}
}

// TestDiffTypeChangeOfDirectory: where a file became a directory or the
// other way round, cairn also lists what the directory holds, which
// restic 0.14 leaves out (the rest of the listing is the same).
func TestDiffTypeChangeOfDirectory(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "f2d", "a file first")
	writeFile(t, src, "d2f/inner", "in a directory first")
	env := newTestRepo(t)
	restic(t, env, "backup", "-q", "--time", "2024-01-01 10:00:00", src)
	must(t, os.Remove(filepath.Join(src, "f2d")))
	writeFile(t, src, "f2d/now", "now in a directory")
	must(t, os.RemoveAll(filepath.Join(src, "d2f")))
	writeFile(t, src, "d2f", "now a file")
	restic(t, env, "backup", "-q", "--time", "2024-01-02 10:00:00", src)

	listing := func(out string) []string {
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if len(l) > 5 && strings.Contains(l, src) {
				lines = append(lines, l)
			}
		}
		return lines
	}
	ids := snapshotIDs(t, env)
	got := listing(cairn(t, env, "diff", ids[0], ids[1]))
	want := listing(restic(t, env, "diff", ids[0], ids[1]))
	extra := []string{"-    " + src + "/d2f/inner", "+    " + src + "/f2d/now"}
	wantAll := append(slices.Clone(want), extra...)
	slices.Sort(wantAll)
	gotSorted := slices.Sorted(slices.Values(got))
	if d := cmp.Diff(wantAll, gotSorted); d != "" {
		t.Errorf("listing (-restic plus contents +cairn):\n%s", d)
	}
	for _, l := range []string{"T    " + src + "/d2f", "T    " + src + "/f2d/"} {
		if !slices.Contains(got, l) {
			t.Errorf("listing lacks %q: %q", l, got)
		}
	}
}

// snapshotIDs returns the full snapshot IDs of the repository, oldest
// first.
func snapshotIDs(t *testing.T, env []string) []string {
	t.Helper()
	var snaps []struct {
		ID string `json:"id"`
	}
	mustJSON(t, cairn(t, env, "snapshots", "--json"), &snaps)
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	return ids
}
