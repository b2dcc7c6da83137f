package lock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
)

// Dead reports whether the lock belongs to a process of this host that no
// longer exists. A process that exists but belongs to another user
// (EPERM) is alive. A PID outside what a process ID can hold (a 32-bit
// pid_t) is not judged at all: kill(2) would see it cut to 32 bits and
// answer for another process, or for a process group.
func (l Lock) Dead() bool {
	host, _ := os.Hostname()
	if l.Hostname != host || l.PID <= 0 || l.PID > math.MaxInt32 {
		return false
	}
	return errors.Is(syscall.Kill(l.PID, 0), syscall.ESRCH)
}

// Old reports whether the lock has not been refreshed for StaleAfter.
func (l Lock) Old(now time.Time) bool { return now.Sub(l.Time) > StaleAfter }

// Stale reports whether the lock is old, or belongs to a process of this
// host that no longer exists: restic's rule, used by unlock.
func (l Lock) Stale(now time.Time) bool { return l.Old(now) || l.Dead() }

// Age is how long ago the lock was written or last refreshed, to the
// second (never negative, whatever the clocks say).
func (l Lock) Age(now time.Time) time.Duration {
	return max(now.Sub(l.Time), 0).Round(time.Second)
}

func (l Lock) String() string {
	kind := "non-exclusive"
	if l.Exclusive {
		kind = "exclusive"
	}
	return fmt.Sprintf("%s lock of PID %d on host %s by user %s, written %s (%v ago)",
		kind, l.PID, l.Hostname, l.Username, l.Time.Local().Format("2006-01-02 15:04:05"), l.Age(time.Now()))
}

// LockedError is the error of Acquire when a conflicting lock is in the
// way. It matches ErrLocked with errors.Is.
type LockedError struct {
	// Lock is the conflicting lock, ID its file.
	Lock Lock
	ID   id.ID
	// Stale is true when the lock was not refreshed for StaleAfter: its
	// process is most likely gone (on another host, so this process
	// cannot tell), and only unlock can remove it.
	Stale bool
}

func (e *LockedError) Error() string {
	if e.Stale {
		return fmt.Sprintf("%v by a stale %v, not refreshed for over %v (lock file %s)", ErrLocked, e.Lock, StaleAfter, e.ID.Str())
	}
	return fmt.Sprintf("%v by the %v (lock file %s)", ErrLocked, e.Lock, e.ID.Str())
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// held is a lock file of another process.
type held struct {
	id   id.ID
	lock Lock
}

// waiter sorts conflicting locks for Acquire and paces its waiting.
type waiter struct {
	repo     Repo
	o        Options
	deadline time.Time
	notified bool
	delay    time.Duration // before the next check
}

// live lists the locks that conflict with the lock being acquired (own is
// its file, if written). Those of dead processes of this host are removed
// and left out; an old one fails at once.
func (w *waiter) live(ctx context.Context, own id.ID) ([]held, error) {
	ls, err := List(ctx, w.repo)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []held
	for fid, l := range ls {
		if fid == own || !conflicts(Lock{Exclusive: w.o.Exclusive, Prune: w.o.Prune}, l) {
			continue
		}
		switch {
		case l.Dead():
			w.removeDead(ctx, fid, l, now)
		case l.Old(now):
			return nil, &LockedError{Lock: l, ID: fid, Stale: true}
		default:
			out = append(out, held{fid, l})
		}
	}
	return out, nil
}

// removeDead removes the lock of a process that is gone, saying so. A
// lock that cannot be removed is still ignored: it protects nothing.
func (w *waiter) removeDead(ctx context.Context, fid id.ID, l Lock, now time.Time) {
	what := fmt.Sprintf("stale lock of PID %d on host %s (the process is gone; written %v ago, lock file %s)", l.PID, l.Hostname, l.Age(now), fid.Str())
	if err := remove(ctx, w.repo, fid); err != nil {
		w.say(fmt.Sprintf("ignoring %s; removing it failed: %v", what, err))
		return
	}
	w.say("removed " + what)
}

func (w *waiter) say(msg string) {
	if w.o.Notify != nil {
		w.o.Notify(msg)
	}
}

// check fails if waiting is over (or not wanted), says once that waiting
// starts, and sets the delay before the next look.
func (w *waiter) check(c held) error {
	if w.o.Wait <= 0 || time.Now().After(w.deadline) {
		return &LockedError{Lock: c.lock, ID: c.id}
	}
	if !w.notified {
		w.notified = true
		w.say(fmt.Sprintf("repository is locked by the %v; waiting up to %v for it to be released (--retry-lock)", c.lock, w.o.Wait.Round(time.Second)))
	}
	w.delay = time.Second/2 + time.Duration(rand.Int64N(int64(time.Second)))
	return nil
}

// wait is check, then the delay.
func (w *waiter) wait(ctx context.Context, c held) error {
	if err := w.check(c); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(w.delay):
		return nil
	}
}
