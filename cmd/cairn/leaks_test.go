package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 18: nothing leaks after a SIGKILL. Each test kills a real cairn
// process at the moment it leaves something behind, checks that it did,
// and then that the next run removes it and restic check passes.

// startCairn starts cairn with run's environment plus env, stdin from
// stdin (nil: none).
func startCairn(t *testing.T, env []string, stdin io.Reader, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), cairnBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + os.TempDir(), "TZ=UTC",
		"RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache"), "CAIRN_KDF_PARAMS=1024,8,1"}, env...)
	cmd.Stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// killWhen kills cmd with SIGKILL as soon as found returns a name
// (polled), and returns it; "" if cmd exited first or 20 s passed.
func killWhen(t *testing.T, cmd *exec.Cmd, found func() string) string {
	t.Helper()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if name := found(); name != "" {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			return name
		}
		select {
		case <-exited:
			return ""
		default:
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	return ""
}

// tempIn returns the first name in dir containing marker ("" if none).
func tempIn(dir, marker string) string {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), marker) {
			return e.Name()
		}
	}
	return ""
}

// TestCacheCleanupKilled kills `cache --cleanup` between the rename of an
// old repository cache directory and the end of its removal: the
// "<id>.removing-<ns>" directory stays, no listing knows it, and the next
// cleanup removes it; the repository and its own cache are fine for
// restic.
func TestCacheCleanupKilled(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	base := filepath.Join(t.TempDir(), "cache")
	env := append(repoEnv(repo, "pw"), "RESTIC_CACHE_DIR="+base)
	cairn(t, env, "init")
	src := t.TempDir()
	makeSampleTree(t, src)
	cairn(t, env, "backup", src)
	var left string
	for attempt := 0; left == "" && attempt < 5; attempt++ {
		oldCacheDirs(t, base, 100, 20)
		cmd := startCairn(t, env, nil, "cache", "--cleanup")
		if killWhen(t, cmd, func() string { return tempIn(base, ".removing-") }) != "" {
			// The directory seen may be gone before the kill lands;
			// what counts is one that is left after it.
			left = tempIn(base, ".removing-")
		}
	}
	if left == "" {
		t.Fatal("cache --cleanup always ended before it could be killed with a .removing- directory in place")
	}
	if _, err := os.Stat(filepath.Join(base, left)); err != nil {
		t.Fatalf("killed cleanup left no %s: %v", left, err)
	}
	out := cairn(t, env, "cache", "--cleanup")
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".removing-") {
			t.Errorf("after the next cache --cleanup (%q), %s is still there", strings.TrimSpace(out), e.Name())
		}
	}
	restic(t, env, "check")
	// Any command with --cleanup-cache removes such leftovers too.
	leftover := filepath.Join(base, fmt.Sprintf("%064x", 1)+".removing-5")
	writeFile(t, leftover, "snapshots/x", "")
	cairn(t, env, "--cleanup-cache", "backup", src)
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("after backup --cleanup-cache, %s is still there (%v)", leftover, err)
	}
}

// oldCacheDirs makes n repository cache directories unused for 40 days,
// with files files each, in base.
func oldCacheDirs(t *testing.T, base string, n, files int) {
	t.Helper()
	old := time.Now().Add(-40 * 24 * time.Hour)
	for i := range n {
		dir := filepath.Join(base, fmt.Sprintf("%064x", 0xdead0000+i))
		if err := os.MkdirAll(filepath.Join(dir, "snapshots"), 0o700); err != nil {
			t.Fatal(err)
		}
		for j := range files {
			if err := os.WriteFile(filepath.Join(dir, "snapshots", fmt.Sprint(j)), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLockKilledBeforeRename kills a backup while its lock file is
// written but not yet renamed (a test-only pause in the local backend):
// locks/<id>-tmp-<host8>-<pid>-<rand> stays. unlock removes it at once (its
// writer is gone); so do prune, a forget --prune that removes no
// snapshot (and so prunes nothing) and every command that locks, readers
// and dry runs included, for the next ones.
func TestLockKilledBeforeRename(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	src := t.TempDir()
	makeSampleTree(t, src)
	cairn(t, env, "backup", src)
	locks := filepath.Join(repo, "locks")
	for _, sweeper := range [][]string{{"unlock"}, {"prune"}, {"forget", "--keep-last", "100", "--prune"}, {"restore", "latest", "--target", t.TempDir()}, {"check"}, {"prune", "--dry-run"}} {
		cmd := startCairn(t, append(env, "CAIRN_TEST_PAUSE_BEFORE_RENAME=locks"), nil, "backup", src)
		left := killWhen(t, cmd, func() string { return tempIn(locks, "-tmp-") })
		if left == "" {
			t.Fatal("backup ended before its lock's temporary file appeared")
		}
		// Both restics ignore the leftover (they list locks/ by ID).
		restic(t, env, "check")
		cairn(t, env, sweeper...)
		if name := tempIn(locks, "-tmp-"); name != "" {
			t.Errorf("after cairn %s, %s is still there", sweeper[0], name)
		}
		restic(t, env, "check")
	}
}

// TestBackupKilledLeavesNoPackTemp kills a --stdin backup fed slowly,
// while its pack is being written to data/pack-tmp-*: the next backup
// removes that file at its start, the writer being gone.
func TestBackupKilledLeavesNoPackTemp(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pw.Close() }()
	cmd := startCairn(t, env, pr, "backup", "--stdin", "--stdin-filename", "slow.bin")
	_ = pr.Close()
	go func() { // a few chunks, then the pipe stays open: the pack is unfinished
		_, _ = io.CopyN(pw, rand.Reader, 6<<20)
	}()
	data := filepath.Join(repo, "data")
	left := killWhen(t, cmd, func() string { return tempIn(data, "pack-tmp-") })
	if left == "" {
		t.Fatal("backup ended before its pack's temporary file appeared")
	}
	src := t.TempDir()
	writeFile(t, src, "a", "a small file")
	cairn(t, env, "backup", src)
	if name := tempIn(data, "-tmp-"); name != "" {
		t.Errorf("after the next backup, data/%s is still there", name)
	}
	cairn(t, env, "unlock") // the killed backup's lock, for restic check
	restic(t, env, "check")
}
