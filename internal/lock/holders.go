package lock

import (
	"context"
	"os"
	"time"
)

// Holder names the process behind a lock. It stays the same when the lock
// is refreshed, which writes a new file with a new time: a two-phase prune
// notes the holders of the locks that exist when it swaps the index, and
// waits until each of them is gone.
type Holder struct {
	Hostname string `json:"hostname"`
	Username string `json:"username,omitempty"`
	PID      int    `json:"pid"`
	UID      uint32 `json:"uid,omitempty"`
	GID      uint32 `json:"gid,omitempty"`
	// Queued is a cairn lock's queue time (kept across refreshes); zero
	// for restic's locks.
	Queued time.Time `json:"queued,omitzero"`
}

// Holder returns the process that holds l.
func (l Lock) Holder() Holder {
	return Holder{Hostname: l.Hostname, Username: l.Username, PID: l.PID, UID: l.UID, GID: l.GID, Queued: l.Queued}
}

// same reports whether two holders are one process.
func (h Holder) same(o Holder) bool {
	return h.Hostname == o.Hostname && h.Username == o.Username && h.PID == o.PID &&
		h.UID == o.UID && h.GID == o.GID && h.Queued.Equal(o.Queued)
}

// ofThisProcess reports whether l is a lock of the calling process.
func ofThisProcess(l Lock) bool {
	host, _ := os.Hostname()
	return l.Hostname == host && l.PID == os.Getpid()
}

// Holders lists the holders of every lock in the repository except those
// of this process, one per process.
func Holders(ctx context.Context, repo Repo) ([]Holder, error) {
	ls, err := List(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []Holder
	for _, l := range ls {
		if ofThisProcess(l) {
			continue
		}
		h := l.Holder()
		dup := false
		for _, o := range out {
			dup = dup || o.same(h)
		}
		if !dup {
			out = append(out, h)
		}
	}
	return out, nil
}

// StillHeld returns, for each of hs that still holds a lock that is not
// stale by restic's rules (Lock.Stale: refreshed within StaleAfter, and
// not of a dead process of this host), that lock.
func StillHeld(ctx context.Context, repo Repo, hs []Holder) ([]Lock, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	ls, err := List(ctx, repo)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []Lock
	for _, h := range hs {
		for _, l := range ls {
			if l.Holder().same(h) && !l.Stale(now) {
				out = append(out, l)
				break
			}
		}
	}
	return out, nil
}
