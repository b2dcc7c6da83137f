package lock

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"sync"
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

// ErrInvalidLock is matched by errors about a lock file that cannot be
// read or decoded. Nobody can tell whose lock it is, so it blocks every
// locking command until it is removed (RemoveStale with all).
var ErrInvalidLock = errors.New("invalid lock file")

// Lock is the content of a lock file.
type Lock struct {
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username"`
	PID       int       `json:"pid"`
	UID       uint32    `json:"uid,omitempty"`
	GID       uint32    `json:"gid,omitempty"`
	// Queued is when a cairn process first wrote this lock; it stays the
	// same across refreshes and orders waiting lockers (see Acquire).
	// restic ignores the field.
	Queued time.Time `json:"cairn_queued,omitzero"`
	// Prune marks the non-exclusive lock of a cairn two-phase prune:
	// restic sees a plain non-exclusive lock, and two such locks conflict
	// with each other, so that two cairn prunes never overlap. restic
	// ignores the field.
	Prune bool `json:"cairn_prune,omitempty"`
}

// conflicts reports whether locks a and b cannot be held at once.
func conflicts(a, b Lock) bool { return a.Exclusive || b.Exclusive || (a.Prune && b.Prune) }

// order returns the time that places l in the queue of lockers.
func (l Lock) order() time.Time { return l.Queued }

// before reports whether lock a (file fa) is ahead of lock b (file fb) in
// the queue: by queue time, then by file ID, so that every process sees
// the same order. A lock without a queue time (restic's, whose time moves
// with every refresh) is always ahead: it is never safe to overtake.
func before(a Lock, fa id.ID, b Lock, fb id.ID) bool {
	if a.Queued.IsZero() {
		return true
	}
	ta, tb := a.order(), b.order()
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return fa.String() < fb.String()
}

// Repo is what locking needs from a repository.
type Repo interface {
	ListFiles(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error
	RemoveFile(ctx context.Context, t backend.FileType, fid id.ID) error
	SaveUnpacked(ctx context.Context, t backend.FileType, doc []byte) (id.ID, error)
	LoadUnpacked(ctx context.Context, t backend.FileType, fid id.ID) ([]byte, error)
}

// Options control Acquire.
type Options struct {
	Exclusive bool
	// Prune takes the lock of a two-phase prune: non-exclusive, but
	// conflicting with the locks of other prunes (see Lock.Prune).
	Prune bool
	// Wait is how long to keep trying while other locks conflict (0:
	// fail at once, as restic without --retry-lock).
	Wait time.Duration
	// Notify receives one-line messages: when Acquire starts waiting, and
	// for every stale lock of a dead process it removes; nil discards.
	Notify func(string)
	// RefreshInterval and RefreshDeadline override, when not zero, how
	// often the lock is refreshed (RefreshInterval, 5 min) and how long
	// refreshing may fail before the lock counts as lost (22.5 min).
	// Tests shorten them.
	RefreshInterval, RefreshDeadline time.Duration
	// Logger receives debug messages: the lock written, waiting,
	// acquired, refreshed, released. nil discards them.
	Logger *slog.Logger
}

// Handle is a held lock. Release it when done.
type Handle struct {
	repo   Repo
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}

	interval, deadline time.Duration // refresh timing
	log                *slog.Logger  // nil: no debug messages

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
// skipped; an undecodable lock is an error matching ErrInvalidLock, as in
// restic.
func List(ctx context.Context, repo Repo) (map[id.ID]Lock, error) {
	return list(ctx, repo, nil)
}

// list is List; with invalid not nil, locks that cannot be read or
// decoded are passed to it and left out instead of failing the call.
func list(ctx context.Context, repo Repo, invalid func(id.ID, error)) (map[id.ID]Lock, error) {
	var ids []id.ID
	err := repo.ListFiles(ctx, backend.LockFile, func(fi backend.FileInfo) error {
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
		var l Lock
		if err == nil {
			l, err = Decode(doc)
		}
		if err != nil {
			err = fmt.Errorf("%w %v: %w", ErrInvalidLock, fid.Str(), err)
			if invalid == nil {
				return nil, err
			}
			invalid(fid, err)
			continue
		}
		out[fid] = l
	}
	return out, nil
}

// Decode parses the JSON document of a lock file, restic's or cairn's.
// Fields it does not know are ignored, as restic does.
func Decode(doc []byte) (Lock, error) {
	var l Lock
	if err := json.Unmarshal(doc, &l); err != nil {
		return Lock{}, err
	}
	return l, nil
}

func save(ctx context.Context, repo Repo, l Lock) (id.ID, error) {
	doc, err := json.Marshal(l)
	if err != nil {
		return id.ID{}, err
	}
	return repo.SaveUnpacked(ctx, backend.LockFile, doc)
}

func remove(ctx context.Context, repo Repo, fid id.ID) error {
	err := repo.RemoveFile(ctx, backend.LockFile, fid)
	if errors.Is(err, backend.ErrNotExist) {
		return nil
	}
	return err
}

// Acquire takes a lock and keeps it refreshed until Release. The returned
// context is ctx, cancelled when the lock is lost (it could not be
// refreshed in time); run the command under it.
//
// Stale conflicting locks are never waited for: one of a process of this
// host that is gone is removed (and reported through Notify), and one not
// refreshed for StaleAfter makes Acquire fail at once with a
// [*LockedError] whose Stale is true. Only live locks are waited for.
//
// Waiting is fair: the process writes its lock at once and then waits only
// for conflicting locks that are ahead of it in the queue (older, by the
// time they were first written). A conflicting lock written later waits
// for this one instead. So a prune cannot starve backups nor the reverse,
// and two waiters never wait for each other. A conflicting lock of a
// process that does not queue (restic) is always waited for.
func Acquire(ctx context.Context, repo Repo, o Options) (*Handle, context.Context, error) {
	w := &waiter{repo: repo, o: o, deadline: time.Now().Add(o.Wait)}
	// Before queueing, let conflicting locks of processes that do not
	// queue (restic) go: writing a lock while restic is between writing
	// its own and checking again would make restic fail. Without waiting
	// wanted, fail at once on any conflict, as restic does.
	for {
		ls, err := w.live(ctx, id.ID{})
		if err != nil {
			return nil, nil, err
		}
		var foreign []held
		for _, c := range ls {
			if c.lock.Queued.IsZero() || o.Wait <= 0 {
				foreign = append(foreign, c)
			}
		}
		if len(foreign) == 0 {
			break
		}
		if err := w.wait(ctx, foreign[0]); err != nil {
			return nil, nil, err
		}
	}
	own := newLock(o.Exclusive)
	own.Queued, own.Prune = own.Time, o.Prune && !o.Exclusive
	fid, err := save(ctx, repo, own)
	if err != nil {
		return nil, nil, fmt.Errorf("write lock: %w", err)
	}
	h := &Handle{repo: repo, id: fid, lock: own, stop: make(chan struct{}), done: make(chan struct{}),
		interval: cmp.Or(o.RefreshInterval, RefreshInterval), deadline: cmp.Or(o.RefreshDeadline, refreshDeadline), log: o.Logger}
	h.debug("lock written", "lock", fid.Str(), "exclusive", o.Exclusive)
	lctx, cancel := context.WithCancelCause(ctx)
	h.cancel = cancel
	go h.refreshLoop(ctx) // keeps the lock alive while it waits, too
	giveUp := func(err error) (*Handle, context.Context, error) {
		_ = h.Release(ctx)
		return nil, nil, err
	}

	w.delay = checkDelay
	for {
		select {
		case <-ctx.Done():
			return giveUp(ctx.Err())
		case <-time.After(w.delay):
		}
		h.mu.Lock()
		fid, own = h.id, h.lock
		h.mu.Unlock()
		ls, err := w.live(ctx, fid)
		if err != nil {
			return giveUp(err)
		}
		var ahead []held
		for _, c := range ls {
			if before(c.lock, c.id, own, fid) {
				ahead = append(ahead, c)
			}
		}
		if len(ahead) == 0 {
			h.debug("lock acquired", "lock", fid.Str(), "exclusive", o.Exclusive)
			return h, lctx, nil
		}
		h.debug("waiting for lock", "lock", fid.Str(), "ahead", ahead[0].lock.String())
		if err := w.check(ahead[0]); err != nil {
			return giveUp(err)
		}
	}
}

// refreshLoop replaces the lock file every h.interval and cancels the
// command's context when that has failed for longer than h.deadline.
func (h *Handle) refreshLoop(ctx context.Context) {
	defer close(h.done)
	ticker := time.NewTicker(h.interval)
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
		} else if time.Since(lastOK) > h.deadline {
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
	h.debug("lock refreshed", "lock", fid.Str(), "old", old.Str())
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
	err := remove(rctx, h.repo, fid)
	h.debug("lock released", "lock", fid.Str(), "error", err)
	return err
}

// debug logs a message if the handle has a logger.
func (h *Handle) debug(msg string, args ...any) {
	if h.log != nil {
		h.log.Debug(msg, args...)
	}
}

// RemoveStale removes stale locks (all locks with all) and returns how
// many it removed. Without all, a lock that cannot be read or decoded is
// left in place and passed to invalid (as restic's unlock leaves it); with
// all it is removed like every other.
func RemoveStale(ctx context.Context, repo Repo, all bool, invalid func(id.ID, error)) (int, error) {
	n := 0
	now := time.Now()
	if all {
		// Undecodable ones too.
		err := repo.ListFiles(ctx, backend.LockFile, func(fi backend.FileInfo) error {
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
	if invalid == nil {
		invalid = func(id.ID, error) {}
	}
	ls, err := list(ctx, repo, invalid)
	if err != nil {
		return 0, err
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
