package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallDisk mounts a tmpfs of size MiB at a new directory (root only;
// under CI=true, where tests run as root, a failure fails the test) and
// unmounts it when the test ends.
func smallDisk(t *testing.T, mib int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	must(t, os.Mkdir(dir, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0700", mib), "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("mount tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func resize(t *testing.T, dir string, mib int) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", fmt.Sprintf("remount,size=%dm", mib), dir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
}

// TestFullDisk fills, in turn, the disk of the repository, of the cache
// and of the restore target. A full repository disk fails the backup with
// one line and exit 1 and leaves the repository as it was (restic checks
// it; the earlier snapshot restores), and the backup succeeds once there
// is room; a full cache disk costs nothing but the cache; a full restore
// target fails the restore with one line, and it succeeds once there is
// room.
func TestFullDisk(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeRandom(t, filepath.Join(src, "small"), 1<<20, 1)
	big := filepath.Join(t.TempDir(), "big")
	for i := range 4 {
		writeRandom(t, filepath.Join(big, fmt.Sprintf("f%d", i)), 8<<20, uint64(10+i))
	}

	t.Run("repository", func(t *testing.T) {
		disk := smallDisk(t, 16)
		env := append(repoEnv(filepath.Join(disk, "repo"), "pw"), "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
		cairn(t, env, "init")
		cairn(t, env, "backup", "-q", src)
		res := run(t, env, cairnBin, "backup", "-q", big)
		if res.code != 1 || !strings.Contains(res.stderr, "no space left on device") {
			t.Fatalf("backup onto a full disk: %v", res)
		}
		t.Logf("backup onto a full disk: exit %d: %s", res.code, res.stderr)
		if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); len(lines) > 2 {
			t.Errorf("backup onto a full disk printed %d lines:\n%s", len(lines), res.stderr)
		}
		restic(t, env, "check")
		if ids := snapshotIDs(t, env); len(ids) != 1 {
			t.Fatalf("%d snapshots after the failed backup, want 1", len(ids))
		}
		dst := t.TempDir()
		cairn(t, env, "restore", "latest", "--target", dst)
		compareTrees(t, src, filepath.Join(dst, src))
		resize(t, disk, 96)
		cairn(t, env, "backup", "-q", big)
		restic(t, env, "check", "--read-data")
	})

	t.Run("cache", func(t *testing.T) {
		disk := smallDisk(t, 2)
		env := append(repoEnv(filepath.Join(t.TempDir(), "repo"), "pw"), "RESTIC_CACHE_DIR="+disk)
		cairn(t, env, "init")
		res := run(t, env, cairnBin, "backup", "-q", big)
		if res.code != 0 {
			t.Fatalf("backup with a full cache disk: %v", res)
		}
		cairn(t, env, "check", "--with-cache")
		restic(t, env, "check", "--read-data")
	})

	t.Run("restore target", func(t *testing.T) {
		env := append(repoEnv(filepath.Join(t.TempDir(), "repo"), "pw"), "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
		cairn(t, env, "init")
		cairn(t, env, "backup", "-q", big)
		disk := smallDisk(t, 12)
		res := run(t, env, cairnBin, "restore", "latest", "--target", disk)
		if res.code == 0 || !strings.Contains(res.stderr, "no space left on device") {
			t.Fatalf("restore onto a full disk: %v", res)
		}
		t.Logf("restore onto a full disk: exit %d: %s", res.code, res.stderr)
		resize(t, disk, 64)
		cairn(t, env, "restore", "latest", "--target", disk)
		compareTrees(t, big, filepath.Join(disk, big))
	})
}
