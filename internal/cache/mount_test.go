package cache_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/cache"
)

// mountTmpfs mounts a tmpfs with options opts on dir (created if needed)
// and unmounts it when the test ends. Without the privilege to mount the
// test is skipped, except under CI=true, where CI runs as root and a
// skip would hide the case.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
		}
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// TestOpenRepoDirOnOtherFS: the repository directory may live on another
// file system than the base (a mount or a symbolic link to another disk);
// the version file cannot be linked from the base then, and is published
// from within the directory.
func TestOpenRepoDirOnOtherFS(t *testing.T) {
	base := t.TempDir()
	mountTmpfs(t, filepath.Join(base, testRepoID), "size=1m")
	c, w := openCache(t, base, cache.Options{})
	checkSetup(t, base)
	h, _ := put(t, c.Wrap(mem.New()), backend.IndexFile, 1, 100)
	checkEntry(t, c, h)
	w.none(t)
}
