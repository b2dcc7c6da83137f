package main

import (
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
