package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startProc starts a process with env and returns it with its stderr.
func startProc(t *testing.T, env []string, name string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = append(os.Environ(), "CAIRN_KDF_PARAMS=1024,8,1")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	return cmd, &stderr
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockCount counts the lock files (not the temporary files a lock is
// written through) of a local repository.
func lockCount(repo string) int {
	m, _ := filepath.Glob(filepath.Join(repo, "locks", "*"))
	n := 0
	for _, p := range m {
		if !strings.Contains(filepath.Base(p), "-tmp-") {
			n++
		}
	}
	return n
}

// TestResticExclusiveLockMakesBackupWait: while restic holds an exclusive
// lock, a cairn backup waits (saying so) and then completes.
func TestResticExclusiveLockMakesBackupWait(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	resticInit(t, env)
	for i := range 6 {
		writeRandom(t, filepath.Join(dir, "big", "f"+string(rune('a'+i))), 48<<20, uint64(i))
	}
	restic(t, env, "backup", filepath.Join(dir, "big"))
	writeFile(t, dir, "src/f", "small")

	holder, _ := startProc(t, env, resticBin(t), "check", "--read-data")
	waitFor(t, "restic's exclusive lock", func() bool { return lockCount(repo) > 0 })
	res := run(t, env, cairnBin, "backup", filepath.Join(dir, "src"))
	herr := holder.Wait()
	if res.code != 0 {
		t.Fatalf("backup under a restic lock: %v", res)
	}
	if !strings.Contains(res.stderr, "locked") || !strings.Contains(res.stderr, "waiting") {
		t.Errorf("backup did not say it waited:\n%s", res.stderr)
	}
	if herr != nil {
		t.Errorf("restic check failed: %v", herr)
	}
	restic(t, env, "check")
}

// TestCairnExclusiveLockStopsRestic: restic reports the repository locked
// while cairn holds an exclusive lock, and works again afterwards.
func TestCairnExclusiveLockStopsRestic(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	// key passwd takes its exclusive lock, then reads the new password:
	// from a fifo, it holds the lock until the test writes to it.
	fifo := filepath.Join(dir, "pw-fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	holder, stderr := startProc(t, env, cairnBin, "key", "passwd", "--new-password-file", fifo)
	waitFor(t, "cairn's exclusive lock", func() bool { return lockCount(repo) > 0 })

	res := run(t, env, resticBin(t), "backup", dir)
	if res.code == 0 || !strings.Contains(res.stderr, "locked") {
		t.Errorf("restic backup under cairn's exclusive lock: %v", res)
	}
	must(t, os.WriteFile(fifo, []byte("newpw\n"), 0o600))
	if err := holder.Wait(); err != nil {
		t.Fatalf("key passwd: %v\n%s", err, stderr)
	}
	if n := lockCount(repo); n != 0 {
		t.Errorf("%d lock files left after the command", n)
	}
	restic(t, repoEnv(repo, "newpw"), "backup", filepath.Join(dir, "pw-fifo"))
}

// TestStaleLockOfKilledProcess: a cairn backup killed with SIGKILL leaves
// its lock; restic and cairn see it as stale (dead PID on this host) and
// unlock removes it.
func TestStaleLockOfKilledProcess(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	writeRandom(t, filepath.Join(dir, "src", "big"), 400<<20, 9)
	holder, _ := startProc(t, env, cairnBin, "backup", filepath.Join(dir, "src"))
	waitFor(t, "the backup's lock", func() bool { return lockCount(repo) > 0 })
	must(t, holder.Process.Signal(syscall.SIGKILL))
	_ = holder.Wait()
	if lockCount(repo) == 0 {
		t.Fatal("killed backup left no lock to test with")
	}
	// A shared lock does not block another backup.
	writeFile(t, dir, "small/f", "x")
	cairn(t, env, "backup", filepath.Join(dir, "small"))
	// restic sees it as stale and removes it.
	out := restic(t, env, "unlock")
	if lockCount(repo) != 0 {
		t.Errorf("restic unlock left %d locks (%s)", lockCount(repo), out)
	}
	// And cairn unlock does the same for the next one.
	holder, _ = startProc(t, env, cairnBin, "backup", "--force", filepath.Join(dir, "src"))
	waitFor(t, "the backup's lock", func() bool { return lockCount(repo) > 0 })
	must(t, holder.Process.Signal(syscall.SIGKILL))
	_ = holder.Wait()
	out = cairn(t, env, "unlock")
	if lockCount(repo) != 0 || !strings.Contains(out, "removed 1") {
		t.Errorf("cairn unlock: %s; %d locks left", out, lockCount(repo))
	}
	restic(t, env, "check")
}
