package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
)

// writeGate holds back the repository's writes until its function has
// returned nil, once.
type writeGate struct {
	once sync.Once
	fn   func(context.Context) error
	err  error
	done chan struct{}
}

// SetWriteGate makes every later write and removal of a file other than a
// lock (pack uploads, SaveUnpacked, RemoveFile, RemoveFiles) wait until
// gate has returned. gate runs once, on the first write; its error is
// the error of that write and of every one after it. A command that
// reads the repository while its lock is still being taken (see
// lock.Begin) sets a gate that waits for the lock and then checks, with
// CheckIndexFiles, that what it read is still current.
func (r *Repository) SetWriteGate(gate func(context.Context) error) {
	r.gate.Store(&writeGate{fn: gate, done: make(chan struct{})})
}

// waitWriteGate passes the gate, if any: the first caller runs it, the
// others wait for it (or for their ctx).
func (r *Repository) waitWriteGate(ctx context.Context) error {
	g := r.gate.Load()
	if g == nil {
		return nil
	}
	g.once.Do(func() {
		go func() {
			defer close(g.done)
			g.err = g.fn(ctx)
		}()
	})
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// ErrIndexChanged is matched by the error of CheckIndexFiles.
var ErrIndexChanged = errors.New("the index changed while it was in use")

// CheckIndexFiles fails with ErrIndexChanged when an index file that
// LoadIndex read is gone from the repository: another process (prune,
// repair index, rebuild-index) rewrote the index, so blobs it listed may
// be gone too. Index files added since (by backups) do not count: they
// only add blobs.
func (r *Repository) CheckIndexFiles(ctx context.Context) error {
	read := r.indexFiles.Load()
	if read == nil {
		return nil
	}
	now, err := r.ListIndexIDs(ctx)
	if err != nil {
		return err
	}
	for _, fid := range *read { // both sorted by ListIndexIDs
		if _, ok := slices.BinarySearchFunc(now, fid, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) }); !ok {
			return fmt.Errorf("%w: index file %v was removed", ErrIndexChanged, backend.Handle{Type: backend.IndexFile, Name: fid.String()})
		}
	}
	return nil
}
