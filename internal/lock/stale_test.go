package lock_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/lock"
)

// notes collects Notify messages.
type notes struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notes) add(m string) { n.mu.Lock(); n.msgs = append(n.msgs, m); n.mu.Unlock() }
func (n *notes) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// TestDeadLockRemovedNotWaitedFor: an exclusive lock of a process of this
// host that is gone is removed at once, with one message naming PID and
// host, and the lock is granted without waiting.
func TestDeadLockRemovedNotWaitedFor(t *testing.T) {
	r := newRepo(t)
	host, _ := os.Hostname()
	writeLock(t, r, lock.Lock{Time: time.Now().Add(-time.Minute), Exclusive: true, Hostname: host, PID: 1 << 30})
	var n notes
	start := time.Now()
	h, _, err := lock.Acquire(t.Context(), r, lock.Options{Exclusive: true, Wait: time.Hour, Notify: n.add})
	if err != nil {
		t.Fatalf("Acquire beside a dead lock = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Acquire took %v beside a dead lock", d)
	}
	msgs := n.all()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "removed stale lock of PID 1073741824 on host "+host) || !strings.Contains(msgs[0], "1m0s ago") {
		t.Errorf("messages = %q, want one saying the dead lock was removed", msgs)
	}
	if ls, _ := lock.List(t.Context(), r); len(ls) != 1 {
		t.Errorf("%d locks while holding, want only our own", len(ls))
	}
	if err := h.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestOldForeignLockFailsAtOnce: a lock of another host not refreshed for
// 30 minutes fails Acquire at once, however long waiting is allowed, with
// a LockedError naming host, PID and age; the lock stays.
func TestOldForeignLockFailsAtOnce(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		r := newRepo(t)
		writeLock(t, r, lock.Lock{Time: time.Now().Add(-45 * time.Minute), Exclusive: true, Hostname: "far-away-host", Username: "bob", PID: 4242})
		start := time.Now()
		_, _, err := lock.Acquire(t.Context(), r, lock.Options{Exclusive: exclusive, Wait: time.Hour})
		var le *lock.LockedError
		if !errors.As(err, &le) || !le.Stale || !errors.Is(err, lock.ErrLocked) {
			t.Fatalf("Acquire(exclusive=%v) beside an old lock = %v, want a stale LockedError", exclusive, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("failing took %v, want at once", d)
		}
		for _, want := range []string{"PID 4242", "host far-away-host", "45m0s ago", "stale"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if ls, _ := lock.List(t.Context(), r); len(ls) != 1 {
			t.Errorf("%d locks after the failure, want only the old one", len(ls))
		}
	}
}

// TestLiveLockWaitedForWithOneMessage: a live conflicting lock is waited
// for, with exactly one message however long the wait, until it goes.
func TestLiveLockWaitedForWithOneMessage(t *testing.T) {
	r := newRepo(t)
	holder, _, err := lock.Acquire(t.Context(), r, lock.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	var n notes
	done := make(chan error, 1)
	go func() {
		h, _, err := lock.Acquire(t.Context(), r, lock.Options{Exclusive: true, Wait: time.Minute, Notify: n.add})
		if err == nil {
			err = h.Release(t.Context())
		}
		done <- err
	}()
	time.Sleep(3 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("second exclusive lock granted while the first was held (%v)", err)
	default:
	}
	if err := holder.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("waiting locker: %v", err)
	}
	msgs := n.all()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "waiting up to 1m0s") || !strings.Contains(msgs[0], "PID") {
		t.Errorf("messages = %q, want one line saying it waits", msgs)
	}
}

// TestDeadOnlyForPossiblePIDs: a lock naming a PID of this host that has
// ended is dead; the same PID plus 2^32 (which kill(2) would cut back to
// it) and PIDs past 2^31-1 name no process and are never judged dead, so
// a lock holding one is not removed as stale by Acquire.
func TestDeadOnlyForPossiblePIDs(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ended := cmd.Process.Pid
	host, _ := os.Hostname()
	if l := (lock.Lock{Hostname: host, PID: ended}); !l.Dead() {
		t.Fatalf("lock of PID %d (ended) is not dead", ended)
	}
	for _, pid := range []int{ended + 1<<32, 1 << 31, -ended} {
		if l := (lock.Lock{Hostname: host, PID: pid}); l.Dead() {
			t.Errorf("lock of PID %d judged dead", pid)
		}
	}
}
