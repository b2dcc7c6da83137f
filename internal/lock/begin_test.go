package lock_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/lock"
)

// A foreign exclusive lock in place: Begin does not start, the caller
// takes the lock the usual way.
func TestBeginDefersToConflictingLock(t *testing.T) {
	r := newRepo(t)
	host, _ := os.Hostname()
	writeLock(t, r, lock.Lock{Time: time.Now(), Exclusive: true, Hostname: host + "-elsewhere", PID: 1})
	p, err := lock.Begin(t.Context(), r, lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p != nil {
		t.Fatal("Begin started beside an exclusive lock")
	}
}

// Begin returns before the check delay; Wait then gives the lock.
func TestBeginThenWait(t *testing.T) {
	r := newRepo(t)
	start := time.Now()
	p, err := lock.Begin(t.Context(), r, lock.Options{})
	if err != nil || p == nil {
		t.Fatalf("Begin: %v, %v", p, err)
	}
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("Begin took %v: it waited for the lock", d)
	}
	h, _, err := p.Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := lock.List(t.Context(), r); err != nil || len(ls) != 1 {
		t.Fatalf("locks while held: %v, %v", ls, err)
	}
	if err := h.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ls, _ := lock.List(t.Context(), r); len(ls) != 0 {
		t.Fatalf("locks after release: %v", ls)
	}
}

// An exclusive lock written by a process that does not queue (restic)
// right after Begin looked: Wait fails with ErrLocked (no waiting wanted).
func TestBeginLosesToLateExclusiveLock(t *testing.T) {
	r := newRepo(t)
	p, err := lock.Begin(t.Context(), r, lock.Options{})
	if err != nil || p == nil {
		t.Fatalf("Begin: %v, %v", p, err)
	}
	host, _ := os.Hostname()
	writeLock(t, r, lock.Lock{Time: time.Now(), Exclusive: true, Hostname: host + "-elsewhere", PID: 1})
	_, _, err = p.Wait(t.Context())
	if !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("Wait: %v, want ErrLocked", err)
	}
	if ls, _ := lock.List(t.Context(), r); len(ls) != 1 {
		t.Fatalf("own lock not removed after failing: %v", ls)
	}
}
