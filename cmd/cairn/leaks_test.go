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
		case <-time.After(time.Millisecond):
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
// cleanup removes it; the repository is fine for restic.
func TestCacheCleanupKilled(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	base := filepath.Join(t.TempDir(), "cache")
	env := append(repoEnv(repo, "pw"), "RESTIC_CACHE_DIR="+base)
	cairn(t, env, "init")
	src := t.TempDir()
	makeSampleTree(t, src)
	cairn(t, env, "backup", src)
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	var dir string
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 64 {
			dir = filepath.Join(base, e.Name())
		}
	}
	if dir == "" {
		t.Fatalf("no repository directory in the cache: %v", entries)
	}
	// Enough files that removing them takes a while, then make it old.
	for i := range 100 {
		sub := filepath.Join(dir, "snapshots", fmt.Sprintf("%02x", i))
		if err := os.MkdirAll(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		for j := range 200 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprint(j)), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	cmd := startCairn(t, env, nil, "cache", "--cleanup")
	left := killWhen(t, cmd, func() string { return tempIn(base, ".removing-") })
	if left == "" {
		t.Fatal("cache --cleanup ended before it could be killed with a .removing- directory in place")
	}
	if _, err := os.Stat(filepath.Join(base, left)); err != nil {
		t.Fatalf("killed cleanup left no %s: %v", left, err)
	}
	out := cairn(t, env, "cache", "--cleanup")
	if name := tempIn(base, ".removing-"); name != "" {
		t.Errorf("after the next cache --cleanup (%q), %s is still there", strings.TrimSpace(out), name)
	}
	restic(t, env, "check")
}

// TestLockKilledBeforeRename kills a backup while its lock file is
// written but not yet renamed (a test-only pause in the local backend):
// locks/<id>-tmp-<host8>-<pid>-<rand> stays. unlock removes it at once (its
// writer is gone); so does prune, for a second one.
func TestLockKilledBeforeRename(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	src := t.TempDir()
	makeSampleTree(t, src)
	cairn(t, env, "backup", src)
	locks := filepath.Join(repo, "locks")
	for _, sweeper := range [][]string{{"unlock"}, {"prune"}} {
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
