package lock

import (
	"context"

	"github.com/cairn-backup/cairn/internal/id"
)

// Pending is a lock being taken in the background; see Begin.
type Pending struct {
	done chan struct{}
	h    *Handle
	ctx  context.Context
	err  error
}

// Begin starts Acquire in the background when no conflicting lock is held
// now, and returns at once, so that the caller can read the repository
// (load the index, walk a parent snapshot) while the lock's check delay
// runs. The caller must not change the repository before Wait returns the
// lock, and must then make sure that what it read is still there: a
// conflicting lock written after this look (an exclusive one that got
// ahead) may have changed it in between.
//
// With a conflicting lock in place Begin returns nil: the caller takes the
// lock with Acquire instead, waiting for it as usual, and reads afterwards.
func Begin(ctx context.Context, repo Repo, o Options) (*Pending, error) {
	w := &waiter{repo: repo, o: o}
	ls, err := w.live(ctx, id.ID{})
	if err != nil {
		return nil, err
	}
	if len(ls) > 0 {
		return nil, nil
	}
	p := &Pending{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.h, p.ctx, p.err = Acquire(ctx, repo, o)
	}()
	return p, nil
}

// Wait returns what Acquire returned: the lock and the context that is
// cancelled when the lock is lost, or the error. It may be called more
// than once.
func (p *Pending) Wait(ctx context.Context) (*Handle, context.Context, error) {
	select {
	case <-p.done:
		return p.h, p.ctx, p.err
	case <-ctx.Done():
		return nil, nil, context.Cause(ctx)
	}
}
