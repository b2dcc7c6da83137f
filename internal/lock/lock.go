package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
)

// Timing, as restic's.
const (
	StaleAfter      = 30 * time.Minute
	RefreshInterval = 5 * time.Minute
	// refreshDeadline is how long refreshing may fail before the lock is
	// considered lost (restic: 30 - 7.5 minutes).
	refreshDeadline = StaleAfter - StaleAfter/4
	checkDelay      = 200 * time.Millisecond
)

// ErrLocked is matched by errors about a conflicting lock.
var ErrLocked = errors.New("repository is already locked")

// Lock is the content of a lock file.
type Lock struct {
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username"`
	PID       int       `json:"pid"`
	UID       uint32    `json:"uid,omitempty"`
	GID       uint32    `json:"gid,omitempty"`
}

// Stale reports whether the lock is old, or belongs to a process of this
// host that no longer exists.
func (l Lock) Stale(now time.Time) bool {
	if now.Sub(l.Time) > StaleAfter {
		return true
	}
	host, _ := os.Hostname()
	if l.Hostname != host || l.PID <= 0 {
		return false
	}
	err := syscall.Kill(l.PID, 0)
	return errors.Is(err, syscall.ESRCH)
}

func (l Lock) String() string {
	kind := "non-exclusive"
	if l.Exclusive {
		kind = "exclusive"
	}
	return fmt.Sprintf("%s lock by %s@%s (PID %d) since %s", kind, l.Username, l.Hostname, l.PID, l.Time.Local().Format("2006-01-02 15:04:05"))
}

// Repo is what locking needs from a repository.
type Repo interface {
	Backend() backend.Backend
	SaveUnpacked(ctx context.Context, t backend.FileType, doc []byte) (id.ID, error)
	LoadUnpacked(ctx context.Context, t backend.FileType, fid id.ID) ([]byte, error)
}

// Options control Acquire.
type Options struct {
	Exclusive bool
	// Wait is how long to keep trying while other locks conflict (0:
	// fail at once, as restic without --retry-lock).
	Wait time.Duration
	// Notify receives a message when Acquire starts waiting; nil discards.
	Notify func(string)
}

// Handle is a held lock. Release it when done.
type Handle struct {
	repo   Repo
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}

	mu   sync.Mutex
	id   id.ID // current lock file; guarded by mu
	lock Lock  // guarded by mu
}

// newLock describes a lock of this process.
func newLock(exclusive bool) Lock {
	l := Lock{Time: time.Now(), Exclusive: exclusive, PID: os.Getpid()}
	l.Hostname, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		l.Username = u.Username
		if v, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
			l.UID = uint32(v)
		}
		if v, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			l.GID = uint32(v)
		}
	}
	return l
}

// List returns every readable lock of the repository, by file ID. Empty
// files (left by non-atomic backends) and files that vanish meanwhile are
// skipped; an undecodable lock is an error, as in restic.
func List(ctx context.Context, repo Repo) (map[id.ID]Lock, error) {
	var ids []id.ID
	err := repo.Backend().List(ctx, backend.LockFile, func(fi backend.FileInfo) error {
		if fid, err := id.Parse(fi.Name); err == nil && fi.Size > 0 {
			ids = append(ids, fid)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	out := make(map[id.ID]Lock, len(ids))
	for _, fid := range ids {
		doc, err := repo.LoadUnpacked(ctx, backend.LockFile, fid)
		if errors.Is(err, backend.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("invalid lock file %v: %w", fid.Str(), err)
		}
		var l Lock
		if err := json.Unmarshal(doc, &l); err != nil {
			return nil, fmt.Errorf("invalid lock file %v: %w", fid.Str(), err)
		}
		out[fid] = l
	}
	return out, nil
}

// conflicts returns the locks in ls (other than own) that conflict with a
// lock of the given kind.
func conflicts(ls map[id.ID]Lock, own id.ID, exclusive bool) []Lock {
	var out []Lock
	for fid, l := range ls {
		if fid == own {
			continue
		}
		if exclusive || l.Exclusive {
			out = append(out, l)
		}
	}
	return out
}

func save(ctx context.Context, repo Repo, l Lock) (id.ID, error) {
	doc, err := json.Marshal(l)
	if err != nil {
		return id.ID{}, err
	}
	return repo.SaveUnpacked(ctx, backend.LockFile, doc)
}

func remove(ctx context.Context, repo Repo, fid id.ID) error {
	err := repo.Backend().Remove(ctx, backend.Handle{Type: backend.LockFile, Name: fid.String()})
	if errors.Is(err, backend.ErrNotExist) {
		return nil
	}
	return err
}

// Acquire takes a lock and keeps it refreshed until Release. The returned
// context is ctx, cancelled when the lock is lost (it could not be
// refreshed in time); run the command under it.
func Acquire(ctx context.Context, repo Repo, o Options) (*Handle, context.Context, error) {
	deadline := time.Now().Add(o.Wait)
	delay := time.Second
	notified := false
	var held id.ID // our lock file while an exclusive locker waits for others
	var waitFor map[id.ID]bool
	for {
		fid, waiting, err := tryAcquire(ctx, repo, o.Exclusive, &held, &waitFor)
		if err == nil && !waiting {
			h := &Handle{repo: repo, id: fid, stop: make(chan struct{}), done: make(chan struct{})}
			h.lock = newLock(o.Exclusive)
			lctx, cancel := context.WithCancelCause(ctx)
			h.cancel = cancel
			go h.refreshLoop(ctx)
			return h, lctx, nil
		}
		if err != nil && !errors.Is(err, ErrLocked) {
			if !held.IsNull() {
				_ = remove(context.WithoutCancel(ctx), repo, held)
			}
			return nil, nil, err
		}
		if time.Now().After(deadline) {
			if !held.IsNull() {
				_ = remove(context.WithoutCancel(ctx), repo, held)
			}
			if err == nil {
				err = fmt.Errorf("%w: other locks did not go away in %v", ErrLocked, o.Wait)
			}
			return nil, nil, err
		}
		if !notified && o.Notify != nil {
			o.Notify(fmt.Sprintf("%v; waiting up to %v for it to go away", err, o.Wait.Round(time.Second)))
			notified = true
		}
		sleep := delay + time.Duration(rand.Int64N(int64(delay)))
		if left := time.Until(deadline); sleep > left {
			sleep = max(left, checkDelay)
		}
		select {
		case <-ctx.Done():
			if !held.IsNull() {
				_ = remove(context.WithoutCancel(ctx), repo, held)
			}
			return nil, nil, ctx.Err()
		case <-time.After(sleep):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// tryAcquire makes one attempt. It returns waiting=true (and keeps *held)
// while an exclusive locker holds its place and waits for the
// non-exclusive locks listed in *waitFor to go.
func tryAcquire(ctx context.Context, repo Repo, exclusive bool, held *id.ID, waitFor *map[id.ID]bool) (id.ID, bool, error) {
	ls, err := List(ctx, repo)
	if err != nil {
		return id.ID{}, false, err
	}
	if !held.IsNull() {
		// An exclusive locker waiting in place: done when the locks it
		// waits for are gone; step back if another exclusive one came.
		for fid, l := range ls {
			if fid != *held && l.Exclusive {
				_ = remove(ctx, repo, *held)
				*held = id.ID{}
				return id.ID{}, false, fmt.Errorf("%w: %v", ErrLocked, l)
			}
		}
		for fid := range *waitFor {
			if _, ok := ls[fid]; ok {
				return *held, true, nil
			}
		}
		return *held, false, nil
	}
	if c := conflicts(ls, id.ID{}, exclusive); len(c) > 0 {
		onlyShared := true
		for _, l := range c {
			onlyShared = onlyShared && !l.Exclusive
		}
		if !exclusive || !onlyShared {
			return id.ID{}, false, fmt.Errorf("%w: %v", ErrLocked, c[0])
		}
	}
	fid, err := save(ctx, repo, newLock(exclusive))
	if err != nil {
		return id.ID{}, false, fmt.Errorf("write lock: %w", err)
	}
	select {
	case <-ctx.Done():
		_ = remove(context.WithoutCancel(ctx), repo, fid)
		return id.ID{}, false, ctx.Err()
	case <-time.After(checkDelay):
	}
	again, err := List(ctx, repo)
	if err != nil {
		_ = remove(context.WithoutCancel(ctx), repo, fid)
		return id.ID{}, false, err
	}
	c := conflicts(again, fid, exclusive)
	if len(c) == 0 {
		return fid, false, nil
	}
	for _, l := range c {
		if l.Exclusive {
			// Another exclusive lock: step back.
			_ = remove(context.WithoutCancel(ctx), repo, fid)
			return id.ID{}, false, fmt.Errorf("%w: %v", ErrLocked, l)
		}
	}
	// Exclusive, and only non-exclusive locks remain: keep our place and
	// wait for exactly those to go; new cairn lockers queue behind us.
	*held = fid
	*waitFor = map[id.ID]bool{}
	for f, l := range again {
		if f != fid && !l.Exclusive {
			(*waitFor)[f] = true
		}
	}
	return fid, true, fmt.Errorf("%w: %v", ErrLocked, c[0])
}

// refreshLoop replaces the lock file every RefreshInterval and cancels
// the command's context when that has failed for too long.
func (h *Handle) refreshLoop(ctx context.Context) {
	defer close(h.done)
	ticker := time.NewTicker(RefreshInterval)
	defer ticker.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-h.stop:
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := h.refresh(ctx); err == nil {
			lastOK = time.Now()
		} else if time.Since(lastOK) > refreshDeadline {
			h.cancel(fmt.Errorf("lock lost: refreshing it failed for %v: %w", time.Since(lastOK).Round(time.Second), err))
			return
		}
	}
}

// refresh writes a new lock file with the current time, then removes the
// old one.
func (h *Handle) refresh(ctx context.Context) error {
	h.mu.Lock()
	l := h.lock
	old := h.id
	h.mu.Unlock()
	l.Time = time.Now()
	fid, err := save(ctx, h.repo, l)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.id, h.lock = fid, l
	h.mu.Unlock()
	return remove(ctx, h.repo, old)
}

// Release stops refreshing and removes the lock file (with a grace of one
// minute even if ctx is cancelled).
func (h *Handle) Release(ctx context.Context) error {
	close(h.stop)
	<-h.done
	h.cancel(nil)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	h.mu.Lock()
	fid := h.id
	h.mu.Unlock()
	return remove(rctx, h.repo, fid)
}

// RemoveStale removes stale locks (all locks with all) and returns how
// many it removed.
func RemoveStale(ctx context.Context, repo Repo, all bool) (int, error) {
	ls, err := List(ctx, repo)
	if err != nil && !all {
		return 0, err
	}
	n := 0
	now := time.Now()
	if all {
		// Undecodable ones too.
		err := repo.Backend().List(ctx, backend.LockFile, func(fi backend.FileInfo) error {
			if fid, err := id.Parse(fi.Name); err == nil {
				if err := remove(ctx, repo, fid); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		return n, err
	}
	for fid, l := range ls {
		if l.Stale(now) {
			if err := remove(ctx, repo, fid); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
