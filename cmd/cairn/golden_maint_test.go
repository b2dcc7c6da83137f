package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// TestGoldenMaint covers check, diff, find and forget: the maintenance
// commands for which restic 0.19.1 prints JSON.
func TestGoldenMaint(t *testing.T) {
	args := func(a ...string) func(*goldenFixture) []string {
		return func(*goldenFixture) []string { return a }
	}
	runGolden(t, []goldenCase{
		{name: "check", args: args("check")},
		{name: "check_read_data", args: args("check", "--read-data")},
		{name: "check_missing_pack", code: 1, prepare: removeBiggestPack, args: args("check")},
		{name: "check_missing_pack_stderr", code: 1, stderr: true, prepare: removeBiggestPack, args: args("check")},
		{name: "check_damaged_pack", code: 1, prepare: damageBiggestPack, args: args("check", "--read-data")},
		{name: "check_damaged_pack_stderr", code: 1, stderr: true, prepare: damageBiggestPack, args: args("check", "--read-data")},
		{name: "check_tag_filter", args: args("check", "--tag", "nosuch")},
		// A snapshot whose tree does not exist: an error, unless the
		// filter leaves it out.
		{name: "check_broken_snapshot", code: 1, prepare: addBrokenSnapshot, args: args("check")},
		{name: "check_broken_snapshot_filtered", prepare: addBrokenSnapshot, args: args("check", "--tag", "golden")},
		{name: "check_broken_snapshot_host", prepare: addBrokenSnapshot, args: args("check", "--host", "other-host")},

		{name: "diff", args: func(f *goldenFixture) []string { return []string{"diff", f.snaps[0][:8], f.snaps[1]} }},
		{name: "diff_subpath", args: func(f *goldenFixture) []string { return []string{"diff", f.snaps[0] + ":/docs", f.snaps[1] + ":/docs"} }},
		{name: "diff_metadata", args: func(f *goldenFixture) []string { return []string{"diff", "--metadata", f.snaps[0], f.snaps[1]} }},

		{name: "find", args: args("find", "a.txt", "link", "docs")},
		{name: "find_long", args: args("find", "-l", "--reverse", "*.txt")},
		{name: "find_none", args: args("find", "no-such-name")},
		{name: "find_oldest", args: args("find", "--oldest", "2000-01-01", "--newest", "2999-01-01 10:00", "top.txt")},
		{name: "find_blob", prepare: rememberTopBlob, args: func(f *goldenFixture) []string {
			return []string{"find", "--blob", goldenNote(f, "blob")[:12]}
		}},
		{name: "find_tree", prepare: rememberTopBlob, args: func(f *goldenFixture) []string {
			return []string{"find", "--tree", goldenNote(f, "tree")}
		}},

		{name: "find_pack_trees", prepare: rememberTopBlob, args: func(f *goldenFixture) []string {
			return []string{"find", "--pack", goldenNote(f, "treepack")}
		}},
		{name: "find_pack_data", prepare: rememberTopBlob, args: func(f *goldenFixture) []string {
			return []string{"find", "--pack", goldenNote(f, "datapack")[:8]}
		}},

		{name: "forget_policy_dry_run", args: args("forget", "--keep-last", "1", "--dry-run")},
		{name: "forget_policy", args: args("forget", "--keep-last", "1", "-c")},
		{name: "forget_prune", args: args("forget", "--keep-last", "1", "--prune")},
		{name: "forget_id", args: func(f *goldenFixture) []string { return []string{"forget", f.snaps[0]} }},
		{name: "forget_unknown_id", args: args("forget", "ffffffff")},
		{name: "forget_no_policy", code: 1, stderr: true, args: args("forget")},
		{name: "forget_remove_all", code: 1, stderr: true, args: args("forget", "--keep-tag", "nosuch")},
	})
}

// goldenNotes holds IDs that prepare functions look up, per fixture.
var goldenNotes sync.Map // *goldenFixture + key → string

type goldenNoteKey struct {
	f   *goldenFixture
	key string
}

func goldenNote(f *goldenFixture, key string) string {
	v, _ := goldenNotes.Load(goldenNoteKey{f, key})
	s, _ := v.(string)
	return s
}

// rememberTopBlob notes the data blob of top.txt ("blob") and the tree of
// docs ("tree") in the newest snapshot, read with the tool under test.
func rememberTopBlob(t *testing.T, f *goldenFixture) {
	t.Helper()
	var sn struct {
		Tree string `json:"tree"`
	}
	if err := json.Unmarshal([]byte(f.must(t, "cat", "snapshot", f.snaps[1])), &sn); err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Nodes []struct {
			Name    string   `json:"name"`
			Content []string `json:"content"`
			Subtree string   `json:"subtree"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(f.must(t, "cat", "blob", sn.Tree)), &tr); err != nil {
		t.Fatal(err)
	}
	for _, n := range tr.Nodes {
		switch n.Name {
		case "top.txt":
			goldenNotes.Store(goldenNoteKey{f, "blob"}, n.Content[0])
		case "docs":
			goldenNotes.Store(goldenNoteKey{f, "tree"}, n.Subtree)
		}
	}
	if goldenNote(f, "blob") == "" || goldenNote(f, "tree") == "" {
		t.Fatalf("top.txt or docs not in the root tree: %+v", tr)
	}
	// The packs of the root tree and of top.txt's blob ("treepack",
	// "datapack").
	repo := checkOpenRepo(t, f.repo, "golden")
	if _, err := repo.LoadIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	for key, h := range map[string]blob.Handle{
		"treepack": {ID: mustParseID(t, sn.Tree), Type: blob.Tree},
		"datapack": {ID: mustParseID(t, goldenNote(f, "blob")), Type: blob.Data},
	} {
		locs := repo.Locate(h)
		if len(locs) == 0 {
			t.Fatalf("%v is in no pack", h)
		}
		goldenNotes.Store(goldenNoteKey{f, key}, locs[0].PackID.String())
	}
}

func mustParseID(t *testing.T, s string) id.ID {
	t.Helper()
	v, err := id.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// addBrokenSnapshot saves a snapshot tagged "broken" whose tree is in no
// pack. Its host is the fixture's $RESTIC_HOST, because restic 0.19.1's
// check considers only that host's snapshots unless --host says otherwise.
func addBrokenSnapshot(t *testing.T, f *goldenFixture) {
	t.Helper()
	repo := checkOpenRepo(t, f.repo, "golden")
	doc := `{"time":"2024-01-02T03:04:05Z","tree":"` + strings.Repeat("ab", 32) + `","paths":["/nowhere"],"hostname":"golden-host","tags":["broken"]}`
	if _, err := repo.SaveUnpacked(t.Context(), backend.SnapshotFile, []byte(doc)); err != nil {
		t.Fatal(err)
	}
}

// biggestPack returns the path of the largest pack file of the fixture:
// the one with big.bin's data.
func biggestPack(t *testing.T, f *goldenFixture) string {
	t.Helper()
	var best string
	var size int64
	err := filepath.Walk(filepath.Join(f.repo, "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			best, size = p, fi.Size()
		}
		return err
	})
	if err != nil || best == "" {
		t.Fatalf("no pack file: %v", err)
	}
	return best
}

func removeBiggestPack(t *testing.T, f *goldenFixture) {
	t.Helper()
	if err := os.Remove(biggestPack(t, f)); err != nil {
		t.Fatal(err)
	}
}

// damageBiggestPack flips one bit inside the first blob of the largest
// pack, so that only --read-data notices.
func damageBiggestPack(t *testing.T, f *goldenFixture) {
	t.Helper()
	p := biggestPack(t, f)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
