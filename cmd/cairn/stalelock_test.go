package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/repository"
)

// plantLock writes a lock file into the local repository at dir, as a
// process with the lock's host, PID and time would have.
func plantLock(t *testing.T, dir, pw string, l lock.Lock) {
	t.Helper()
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = be.Close() }()
	r, err := repository.Open(t.Context(), be, pw, repository.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(l)
	if _, err := r.SaveUnpacked(t.Context(), backend.LockFile, doc); err != nil {
		t.Fatal(err)
	}
}

// holdExclusive starts `cairn key passwd`, which takes an exclusive lock
// and then blocks reading the new password from a fifo; writing to the
// fifo lets it finish.
func holdExclusive(t *testing.T, dir, repo string, env []string) (proc interface {
	Wait() error
}, pid int, fifo string) {
	t.Helper()
	fifo = filepath.Join(dir, "pw-fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	holder, _ := startProc(t, env, cairnBin, "key", "passwd", "--new-password-file", fifo)
	waitFor(t, "cairn's exclusive lock", func() bool { return lockCount(repo) > 0 })
	return holder, holder.Process.Pid, fifo
}

// TestLockOfKilledCairnIsRemoved: the exclusive lock of a cairn process
// killed with SIGKILL on this host is not waited for: the next exclusive
// command (check, prune) removes it with one line naming PID and host,
// and runs at once although --retry-lock allows 30 minutes.
func TestLockOfKilledCairnIsRemoved(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	writeFile(t, dir, "src/f", "data")
	cairn(t, env, "backup", filepath.Join(dir, "src"))
	holder, pid, _ := holdExclusive(t, dir, repo, env)
	must(t, syscall.Kill(pid, syscall.SIGKILL))
	_ = holder.Wait()
	if lockCount(repo) != 1 {
		t.Fatalf("the killed process left %d locks, want 1", lockCount(repo))
	}
	host, _ := os.Hostname()
	for _, cmd := range []string{"check", "prune"} {
		start := time.Now()
		res := run(t, env, cairnBin, cmd)
		if res.code != 0 {
			t.Fatalf("%s after a killed process: %v", cmd, res)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s took %v: it waited for a dead lock", cmd, d)
		}
		var removed []string
		for _, l := range strings.Split(res.stderr, "\n") {
			if strings.Contains(l, "stale lock") {
				removed = append(removed, l)
			}
		}
		if cmd == "check" {
			want := "removed stale lock of PID " + strconv.Itoa(pid) + " on host " + host
			if len(removed) != 1 || !strings.Contains(removed[0], want) {
				t.Errorf("check's stderr should have one line %q:\n%s", want, res.stderr)
			}
		} else if len(removed) != 0 {
			t.Errorf("prune reported a stale lock already removed:\n%s", res.stderr)
		}
	}
	if lockCount(repo) != 0 {
		t.Errorf("%d locks left", lockCount(repo))
	}
	restic(t, env, "check")
}

// TestOldLockOfOtherHostExitsAtOnce: a lock of another host not
// refreshed for 30 minutes makes commands exit 11 at once, with one line
// that names the host, the PID, the age and `cairn unlock`; unlock (cairn's
// or restic's) removes it and the command then works.
func TestOldLockOfOtherHostExitsAtOnce(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	writeFile(t, dir, "src/f", "data")
	old := lock.Lock{Time: time.Now().Add(-45 * time.Minute), Exclusive: true, Hostname: "backup-host-7", Username: "bob", PID: 4242}
	plantLock(t, repo, "pw", old)
	for _, args := range [][]string{{"check"}, {"backup", filepath.Join(dir, "src")}, {"prune"}} {
		start := time.Now()
		res := run(t, env, cairnBin, args...)
		oneLine(t, res, 11, "backup-host-7", "PID 4242", "45m", "ago", "`cairn unlock`")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%v took %v, want an exit at once", args, d)
		}
	}
	// restic 0.14 also sees the repository as locked by it.
	if res := run(t, env, resticBin(t), "backup", filepath.Join(dir, "src")); res.code == 0 || !strings.Contains(res.stderr, "locked") {
		t.Errorf("restic backup beside the old lock: %v", res)
	}
	out := cairn(t, env, "unlock")
	if !strings.Contains(out, "removed 1") || lockCount(repo) != 0 {
		t.Errorf("cairn unlock: %s; %d locks left", out, lockCount(repo))
	}
	cairn(t, env, "backup", filepath.Join(dir, "src"))

	// A shared old lock stops an exclusive command only, and restic's
	// unlock removes it as well.
	old.Exclusive = false
	plantLock(t, repo, "pw", old)
	cairn(t, env, "backup", filepath.Join(dir, "src"))
	oneLine(t, run(t, env, cairnBin, "check"), 11, "backup-host-7", "`cairn unlock`")
	restic(t, env, "unlock")
	if lockCount(repo) != 0 {
		t.Errorf("restic unlock left %d locks", lockCount(repo))
	}
	cairn(t, env, "check")
}

// TestLiveLockIsWaitedFor: a lock of a running process is waited for
// (with --retry-lock), with one line when the wait starts; without
// --retry-lock time the command exits 11 naming host, PID, age and unlock.
func TestLiveLockIsWaitedFor(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	holder, pid, fifo := holdExclusive(t, dir, repo, env)
	host, _ := os.Hostname()

	res := run(t, env, cairnBin, "--retry-lock", "0", "check")
	oneLine(t, res, 11, "PID "+strconv.Itoa(pid), "host "+host, "ago", "`cairn unlock`")

	waiter, stderr := startProc(t, append(env, "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache")), cairnBin, "check")
	// The waiting check has queued its own lock beside the holder's.
	waitFor(t, "the waiting check's lock", func() bool { return lockCount(repo) == 2 })
	time.Sleep(2 * time.Second)
	if n := lockCount(repo); n != 2 {
		t.Fatalf("%d locks while check waits, want the holder's and check's", n)
	}
	must(t, os.WriteFile(fifo, []byte("newpw\n"), 0o600))
	if err := holder.Wait(); err != nil {
		t.Fatalf("key passwd: %v", err)
	}
	// The waiting check had opened the repository (loaded the master
	// key) before key passwd replaced the key, so it completes.
	if err := waiter.Wait(); err != nil {
		t.Fatalf("waiting check: %v\n%s", err, stderr)
	}
	var waits int
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "waiting up to 30m0s") {
			waits++
			if !strings.Contains(l, "PID "+strconv.Itoa(pid)) || !strings.Contains(l, host) {
				t.Errorf("the waiting line does not name the holder: %q", l)
			}
		}
	}
	if waits != 1 {
		t.Errorf("%d waiting lines, want 1:\n%s", waits, stderr)
	}
}
