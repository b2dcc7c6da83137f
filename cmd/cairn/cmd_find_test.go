package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// findGroups splits find's output into its per-snapshot groups, keyed by
// their header line. restic 0.14 searches snapshots in no fixed order, so
// only the groups are compared.
func findGroups(out string) map[string][]string {
	groups := map[string][]string{}
	head := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "Found matching entries in snapshot "):
			head = l
			groups[head] = []string{}
		case l != "":
			groups[head] = append(groups[head], l)
		}
	}
	return groups
}

// findBlocks splits the output of find --blob, --tree or --pack into its
// "Found ..." blocks, sorted.
func findBlocks(out string) []string {
	blocks := regexp.MustCompile(`(?m)^Found `).Split(out, -1)
	blocks = slices.DeleteFunc(blocks, func(b string) bool { return b == "" })
	slices.Sort(blocks)
	return blocks
}

// compareFind runs find with args in both tools and compares the groups.
// Both run with --no-lock, which spares each process the 200 ms wait of
// taking a lock (cairn's locking is tested by the other calls).
func compareFind(t *testing.T, env []string, args ...string) map[string][]string {
	t.Helper()
	args = append([]string{"--no-lock", "find"}, args...)
	got, want := findGroups(cairn(t, env, args...)), findGroups(restic(t, env, args...))
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%v (-restic +cairn):\n%s", args, d)
	}
	return got
}

// TestFindNames: name patterns find what restic finds.
func TestFindNames(t *testing.T) {
	h := makeHistory(t)
	for _, args := range [][]string{
		{"*.txt", "link"}, // several patterns; files, symlinks
		{"sub"},           // a directory and everything below it
		{"-i", "*.TXT"},   // case folded
		{"-l", "a.txt", "link", "fifo", "sub"},
		{"src/dup*/x"}, // a pattern across directories
		{"/tmp"},       // anchored: everything
		{"no-such-name"},
	} {
		compareFind(t, h.env, args...)
	}
	groups := compareFind(t, h.env, "*.go")
	if len(groups) != 1 { // f.go is only in the first snapshot
		t.Errorf("find *.go found entries in %d snapshots, want 1: %v", len(groups), groups)
	}
	if out := cairn(t, h.env, "-q", "find", "a.txt"); out != h.src+"/a.txt\n"+h.src+"/a.txt\n" {
		t.Errorf("find -q a.txt =\n%s", out)
	}
}

// TestFindSnapshotChoice: --snapshot, --host, --tag and --path pick the
// snapshots to search as in restic, and --json gives restic's objects.
func TestFindSnapshotChoice(t *testing.T) {
	h := makeHistory(t)
	compareFind(t, h.env, "-s", h.ids[0][:8], "-s", "latest", "-s", h.ids[0], "x")
	compareFind(t, h.env, "--host", "h1", "-s", "latest", "deep")
	compareFind(t, h.env, "--tag", "t1", "x")
	compareFind(t, h.env, "--path", h.src, "x")

	type group struct {
		Matches  []map[string]any `json:"matches"`
		Hits     int              `json:"hits"`
		Snapshot string           `json:"snapshot"`
	}
	decode := func(out string) map[string]group {
		var gs []group
		mustJSON(t, out, &gs)
		m := map[string]group{}
		for _, g := range gs {
			m[g.Snapshot] = g
		}
		return m
	}
	args := []string{"find", "--json", "link", "meta.txt", "sub", "Docs"}
	got, want := decode(cairn(t, h.env, args...)), decode(restic(t, h.env, args...))
	// restic 0.19.1 prints each match's inode, 0.14 does not: cairn must
	// have it, and is compared without it.
	for _, g := range got {
		for _, m := range g.Matches {
			if n, _ := m["inode"].(float64); n == 0 {
				t.Errorf("find --json match without an inode: %v", m)
			}
			delete(m, "inode")
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("find --json (-restic +cairn):\n%s", d)
	}
	if len(got) != 3 {
		t.Errorf("find --json has %d groups, want 3", len(got))
	}
}

// TestFindIDs: --blob, --tree and --pack find the same files and
// directories as restic's, for full IDs and 8-digit prefixes.
func TestFindIDs(t *testing.T) {
	h := makeHistory(t)
	var tr struct {
		Nodes []struct {
			Name    string   `json:"name"`
			Content []string `json:"content"`
			Subtree string   `json:"subtree"`
		} `json:"nodes"`
	}
	mustJSON(t, cairn(t, h.env, "cat", "tree", h.ids[0]+":"+h.src), &tr)
	var bigBlob, hardBlob, subTree string
	for _, n := range tr.Nodes {
		switch n.Name {
		case "big.bin":
			bigBlob = n.Content[0]
		case "hard":
			hardBlob = n.Content[0]
		case "sub":
			subTree = n.Subtree
		}
	}
	if bigBlob == "" || hardBlob == "" || subTree == "" {
		t.Fatalf("tree of src: %+v", tr)
	}
	for _, args := range [][]string{
		{"--blob", bigBlob, hardBlob[:8]},
		{"--tree", subTree[:8]},
	} {
		args = append([]string{"--no-lock", "find"}, args...)
		got, want := findBlocks(cairn(t, h.env, args...)), findBlocks(restic(t, h.env, args...))
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%v (-restic +cairn):\n%s", args, d)
		}
		if len(got) == 0 {
			t.Errorf("%v found nothing", args)
		}
	}

	// Every pack, by 8-digit prefix: data packs find files, tree packs
	// directories, both without error. restic 0.14 finds only the files;
	// 0.19.1 also the directories of tree packs (and the root, as "/"),
	// as cairn does: the files are compared with 0.14, the directories
	// by the golden case find_pack.
	found, trees := 0, 0
	for _, p := range sortedLines(cairn(t, h.env, "list", "packs")) {
		args := []string{"--no-lock", "find", "--pack", p[:8]}
		got := []string{}
		for _, b := range findBlocks(cairn(t, h.env, args...)) {
			if strings.HasPrefix(b, "tree ") {
				trees++
				continue
			}
			got = append(got, b)
		}
		want := findBlocks(restic(t, h.env, args...))
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("find --pack %s (-restic +cairn):\n%s", p[:8], d)
		}
		found += len(got)
	}
	if found == 0 || trees == 0 {
		t.Errorf("find --pack found %d files and %d directories in all packs", found, trees)
	}
	if res := run(t, h.env, cairnBin, "find", "--pack", "00000000"); res.code == 0 || !strings.Contains(res.stderr, "unable to find pack") {
		t.Errorf("find --pack of an unknown pack:\n%v", res)
	}

	var objs []map[string]any
	mustJSON(t, cairn(t, h.env, "find", "--json", "--tree", subTree), &objs)
	var robjs []map[string]any
	mustJSON(t, restic(t, h.env, "find", "--json", "--tree", subTree), &robjs)
	sortObjs := func(o []map[string]any) {
		slices.SortFunc(o, func(a, b map[string]any) int { return strings.Compare(a["snapshot"].(string), b["snapshot"].(string)) })
	}
	sortObjs(objs)
	sortObjs(robjs)
	if d := cmp.Diff(robjs, objs); d != "" {
		t.Errorf("find --json --tree (-restic +cairn):\n%s", d)
	}
}

// TestCatTree: cat tree prints a tree blob as stored, found by tree ID,
// ID prefix, snapshot or snapshot:path.
func TestCatTree(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "dir/file", "content")
	env := newTestRepo(t)
	restic(t, env, "backup", "-q", src)

	root := cairn(t, env, "cat", "tree", "latest")
	var snap struct {
		Tree string `json:"tree"`
	}
	mustJSON(t, cairn(t, env, "cat", "snapshot", snapshotIDs(t, env)[0]), &snap)
	if want := restic(t, env, "--no-lock", "cat", "blob", snap.Tree); root != want {
		t.Errorf("cat tree latest = %q, want the root tree %q", root, want)
	}
	var dir struct {
		Nodes []struct {
			Subtree string `json:"subtree"`
		} `json:"nodes"`
	}
	mustJSON(t, cairn(t, env, "cat", "tree", "latest:"+src), &dir)
	if len(dir.Nodes) != 1 || dir.Nodes[0].Subtree == "" {
		t.Fatalf("cat tree latest:%s = %+v", src, dir)
	}
	sub := dir.Nodes[0].Subtree
	want := restic(t, env, "--no-lock", "cat", "blob", sub)
	for _, ref := range []string{sub, sub[:10], "latest:" + filepath.Join(src, "dir")} {
		if got := cairn(t, env, "cat", "tree", ref); got != want {
			t.Errorf("cat tree %s = %q, want %q", ref, got, want)
		}
	}
	if !json.Valid([]byte(want)) || !strings.Contains(want, `"name":"file"`) {
		t.Errorf("tree of dir: %q", want)
	}
	for _, bad := range []string{"latest:" + filepath.Join(src, "dir/file"), "ffffffffff", "latest:/nope"} {
		if res := run(t, env, cairnBin, "cat", "tree", bad); res.code == 0 {
			t.Errorf("cat tree %s succeeded:\n%v", bad, res)
		}
	}
}
