package lock_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/faulty"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/repository"
)

func newRepo(t *testing.T) *repository.Repository {
	t.Helper()
	kp, err := repository.FixedKeyParams(1024, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repository.Init(t.Context(), mem.New(), "pw", repository.InitOptions{Version: 2, Params: kp}, repository.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeLock stores a lock file as another process (or restic) would.
func writeLock(t *testing.T, r *repository.Repository, l lock.Lock) {
	t.Helper()
	doc, _ := json.Marshal(l)
	if _, err := r.SaveUnpacked(t.Context(), backend.LockFile, doc); err != nil {
		t.Fatal(err)
	}
}

func TestExclusiveLockersTakeTurns(t *testing.T) {
	r := newRepo(t)
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			h, _, err := lock.Acquire(t.Context(), r, lock.Options{Exclusive: true, Wait: time.Minute})
			if err != nil {
				t.Errorf("Acquire() = %v", err)
				return
			}
			n := inside.Add(1)
			if n > maxInside.Load() {
				maxInside.Store(n)
			}
			time.Sleep(300 * time.Millisecond)
			inside.Add(-1)
			if err := h.Release(context.Background()); err != nil {
				t.Errorf("Release() = %v", err)
			}
		})
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Errorf("%d exclusive lockers held the lock at once, want 1", maxInside.Load())
	}
	if ls, _ := lock.List(t.Context(), r); len(ls) != 0 {
		t.Errorf("%d locks left after release", len(ls))
	}
}

func TestSharedAndExclusive(t *testing.T) {
	r := newRepo(t)
	shared, _, err := lock.Acquire(t.Context(), r, lock.Options{Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Without waiting, an exclusive locker fails at once (as restic).
	if _, _, err := lock.Acquire(t.Context(), r, lock.Options{Exclusive: true}); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("Acquire(exclusive, no wait) = %v, want ErrLocked", err)
	}
	// With waiting, it gets the lock once the shared one is released.
	got := make(chan error, 1)
	go func() {
		h, _, err := lock.Acquire(t.Context(), r, lock.Options{Exclusive: true, Wait: time.Minute})
		if err == nil {
			err = h.Release(context.Background())
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("exclusive lock granted beside a shared one (err %v)", err)
	case <-time.After(time.Second):
	}
	if err := shared.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiting exclusive locker: %v", err)
	}
}

func TestForeignLockAlwaysWaitedFor(t *testing.T) {
	r := newRepo(t)
	host, _ := os.Hostname()
	// A restic exclusive lock (no queue time), of a live process.
	writeLock(t, r, lock.Lock{Time: time.Now(), Exclusive: true, Hostname: host, PID: os.Getpid()})
	_, _, err := lock.Acquire(t.Context(), r, lock.Options{Wait: 1500 * time.Millisecond})
	if !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("Acquire beside a restic exclusive lock = %v, want ErrLocked after waiting", err)
	}
	if ls, _ := lock.List(t.Context(), r); len(ls) != 1 {
		t.Errorf("%d locks after a failed Acquire, want only restic's", len(ls))
	}
}

func TestRemoveStale(t *testing.T) {
	r := newRepo(t)
	host, _ := os.Hostname()
	writeLock(t, r, lock.Lock{Time: time.Now(), Hostname: host, PID: 1 << 30})                  // dead process
	writeLock(t, r, lock.Lock{Time: time.Now().Add(-time.Hour), Hostname: "elsewhere", PID: 1}) // too old
	writeLock(t, r, lock.Lock{Time: time.Now(), Hostname: host, PID: os.Getpid()})              // alive
	writeLock(t, r, lock.Lock{Time: time.Now(), Hostname: "elsewhere", PID: 1 << 30})           // other host, recent
	n, err := lock.RemoveStale(t.Context(), r, false, nil)
	if err != nil || n != 2 {
		t.Fatalf("RemoveStale() = %d, %v; want 2", n, err)
	}
	n, err = lock.RemoveStale(t.Context(), r, true, nil)
	if err != nil || n != 2 {
		t.Fatalf("RemoveStale(all) = %d, %v; want 2", n, err)
	}
}

// newFaultyRepo is newRepo on a backend whose faults the test arms.
func newFaultyRepo(t *testing.T) (*repository.Repository, *faulty.Backend) {
	t.Helper()
	kp, err := repository.FixedKeyParams(1024, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := faulty.New(mem.New())
	r, err := repository.Init(t.Context(), f, "pw", repository.InitOptions{Version: 2, Params: kp}, repository.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r, f
}

// TestLockLostWhenRefreshFails: when the lock cannot be refreshed for
// longer than the deadline, the command's context is cancelled with a
// cause that says so.
func TestLockLostWhenRefreshFails(t *testing.T) {
	r, f := newFaultyRepo(t)
	h, lctx, err := lock.Acquire(t.Context(), r, lock.Options{RefreshInterval: 10 * time.Millisecond, RefreshDeadline: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Release(t.Context()) }()
	f.Fail(faulty.OpSave, 1<<30)
	select {
	case <-lctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the context was not cancelled although refreshing kept failing")
	}
	if cause := context.Cause(lctx); cause == nil || !strings.Contains(cause.Error(), "lock lost") || !errors.Is(cause, faulty.ErrInjected) {
		t.Fatalf("cause = %v, want a lock-lost error wrapping the refresh failure", cause)
	}
}

// TestLockSurvivesShortOutage: refreshes that fail for less than the
// deadline do not cancel anything, and the next good refresh renews the
// lock file.
func TestLockSurvivesShortOutage(t *testing.T) {
	r, f := newFaultyRepo(t)
	h, lctx, err := lock.Acquire(t.Context(), r, lock.Options{RefreshInterval: 10 * time.Millisecond, RefreshDeadline: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Release(t.Context()) }()
	first := lockTimes(t, r)
	f.Fail(faulty.OpSave, 5)
	deadline := time.Now().Add(10 * time.Second)
	for f.Injected() < 5 || !lockTimes(t, r)[0].After(first[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("the lock was not refreshed after the outage (%d faults injected)", f.Injected())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := lctx.Err(); err != nil {
		t.Fatalf("a short outage cancelled the command: %v", context.Cause(lctx))
	}
	if n := len(lockTimes(t, r)); n != 1 {
		t.Errorf("%d lock files after refreshing, want 1", n)
	}
}

// lockTimes returns the times of the repository's locks.
func lockTimes(t *testing.T, r *repository.Repository) []time.Time {
	t.Helper()
	ls, err := lock.List(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	var ts []time.Time
	for _, l := range ls {
		ts = append(ts, l.Time)
	}
	return ts
}
