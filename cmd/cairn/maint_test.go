package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTagRepairMigrate: tag rewrites snapshots the way restic reads them,
// repair index rebuilds an index restic accepts, and a v1 repository
// upgraded to v2 takes compressed data that restic checks.
func TestTagRepairMigrate(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeSampleTree(t, src)
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init", "--repository-version", "1")
	cairn(t, env, "backup", "--tag", "a", src)
	first := latestSnapshotID(t, env)

	cairn(t, env, "tag", "--add", "b,c", "--remove", "a")
	var snaps []struct {
		ID       string   `json:"id"`
		Tags     []string `json:"tags"`
		Original string   `json:"original"`
	}
	mustJSON(t, restic(t, env, "snapshots", "--json"), &snaps)
	if len(snaps) != 1 || strings.Join(snaps[0].Tags, ",") != "b,c" || snaps[0].Original != first {
		t.Errorf("after tag: %+v, want tags b,c and original %s", snaps, first[:8])
	}
	cairn(t, env, "tag", "--set", "x")
	if out := restic(t, env, "snapshots", "--tag", "x"); !strings.Contains(out, "1 snapshots") {
		t.Errorf("restic does not see the set tag:\n%s", out)
	}

	// Rebuild the index; restic reads everything through it.
	out := cairn(t, env, "repair", "index")
	if !strings.Contains(out, "removed 1 old index files") {
		t.Errorf("repair index: %s", out)
	}
	restic(t, env, "check", "--read-data")

	// Migrate to v2, then back up compressible data: restic checks it.
	cairn(t, env, "migrate", "upgrade_repo_v2")
	var cfg struct{ Version int }
	mustJSON(t, restic(t, env, "cat", "config"), &cfg)
	if cfg.Version != 2 {
		t.Fatalf("version after migration = %d", cfg.Version)
	}
	writeFile(t, src, "more.txt", strings.Repeat("compress me please\n", 20000))
	cairn(t, env, "backup", src)
	restic(t, env, "check", "--read-data")
	dst := filepath.Join(t.TempDir(), "dst")
	restic(t, env, "restore", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src))
}

// TestRewriteAndRepairSnapshots: rewrite drops excluded files (restic sees
// the result), and repair snapshots makes a repository with a lost pack
// pass restic check again.
func TestRewriteAndRepairSnapshots(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "src/keep.txt", "keep")
	writeFile(t, dir, "src/drop.log", "drop")
	writeFile(t, dir, "src/sub/also.log", "drop too")
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	cairnIn(t, dir, env, "backup", "src")

	cairn(t, env, "rewrite", "--exclude", "*.log", "--forget")
	ls := restic(t, env, "ls", "latest")
	if strings.Contains(ls, ".log") || !strings.Contains(ls, "keep.txt") {
		t.Errorf("after rewrite:\n%s", ls)
	}
	if n := len(sortedLines(restic(t, env, "list", "snapshots"))); n != 1 {
		t.Errorf("%d snapshots after rewrite --forget, want 1", n)
	}
	restic(t, env, "check")

	// Lose the pack holding a file's data, rebuild the index: restic check
	// now reports the snapshot broken; repair snapshots fixes that.
	writeFile(t, dir, "src2/fine.txt", "fine")
	cairnIn(t, dir, env, "backup", "src2")
	writeRandom(t, filepath.Join(dir, "src2", "lost.bin"), 5<<20, 4)
	cairnIn(t, dir, env, "backup", "--pack-size", "4", "src2")
	var largest string
	var size int64
	packs, _ := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	for _, p := range packs {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			largest, size = p, fi.Size()
		}
	}
	must(t, os.Remove(largest))
	cairn(t, env, "repair", "index")
	if res := run(t, env, resticBin(t), "check"); res.code == 0 {
		t.Fatalf("restic check passed with a pack missing:\n%v", res)
	}
	res := run(t, env, cairnBin, "repair", "snapshots", "--forget")
	if res.code != 0 || !strings.Contains(res.stderr, "lost.bin") {
		t.Fatalf("repair snapshots: %v", res)
	}
	restic(t, env, "check")
	ls = restic(t, env, "ls", "latest")
	if strings.Contains(ls, "lost.bin") || !strings.Contains(ls, "fine.txt") {
		t.Errorf("after repair:\n%s", ls)
	}
}

// TestCopyBetweenRepositories: copy moves snapshots (from a restic-made
// repository) with all their blobs, restic checks and restores the copy,
// and a second copy adds nothing.
func TestCopyBetweenRepositories(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeSampleTree(t, src)
	from := filepath.Join(t.TempDir(), "from")
	resticInit(t, repoEnv(from, "frompw"))
	restic(t, repoEnv(from, "frompw"), "backup", src)
	to := filepath.Join(t.TempDir(), "to")
	env := append(repoEnv(to, "topw"), "RESTIC_FROM_PASSWORD=frompw")
	cairn(t, env, "init", "--copy-chunker-params", "--from-repo", from)
	out := cairn(t, env, "copy", "--from-repo", from)
	if !strings.Contains(out, "copied 1 snapshots") {
		t.Errorf("copy: %s", out)
	}
	restic(t, env, "check", "--read-data")
	dst := filepath.Join(t.TempDir(), "dst")
	restic(t, env, "restore", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src))
	if out := cairn(t, env, "copy", "--from-repo", from); !strings.Contains(out, "copied 0 snapshots") {
		t.Errorf("second copy: %s", out)
	}
}

// TestRepairPacks: a pack with one damaged blob gives up only that blob;
// after repair packs and repair snapshots, restic checks every byte clean.
func TestRepairPacks(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		writeRandom(t, filepath.Join(dir, "src", "f"+string(rune('a'+i))), 1<<20, uint64(20+i))
	}
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	cairnIn(t, dir, env, "backup", "src")
	var largest string
	var size int64
	packs, _ := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	for _, p := range packs {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			largest, size = p, fi.Size()
		}
	}
	damage(t, largest, func(b []byte) []byte { b[100] ^= 1; return b })
	if res := run(t, env, resticBin(t), "check", "--read-data"); res.code == 0 {
		t.Fatal("restic check --read-data missed the damage")
	}
	out := cairn(t, env, "repair", "packs", filepath.Base(largest))
	if !strings.Contains(out, "lost 1, removed 1 packs") || strings.Contains(out, "salvaged 0") {
		t.Errorf("repair packs: %s", out)
	}
	cairn(t, env, "repair", "snapshots", "--forget")
	restic(t, env, "check", "--read-data")
}
