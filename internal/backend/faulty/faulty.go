// Package faulty injects faults for tests: a [backend.Backend] decorator
// that fails calls, cuts reads short, delays calls and loses answers
// (Backend), a TCP proxy that drops connections (Proxy) and an HTTP proxy
// that answers with server errors (HTTPProxy). Faults are deterministic:
// they are armed by count, so a test says exactly what goes wrong.
package faulty

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// ErrInjected is the transient error the decorator injects.
var ErrInjected = errors.New("injected fault: connection reset")

// Op names a backend call.
type Op string

// The calls whose faults can be armed.
const (
	OpSave   Op = "save"
	OpLoad   Op = "load"
	OpStat   Op = "stat"
	OpList   Op = "list"
	OpRemove Op = "remove"
)

// Backend wraps a backend and injects the faults armed on it. It is safe
// for concurrent use; faults are consumed in call order.
type Backend struct {
	be backend.Backend

	mu         sync.Mutex
	fail       map[Op]int // calls to fail before they reach the backend
	shortReads int        // loads whose reader breaks half way
	lostSaves  int        // saves that succeed below but report failure
	delay      time.Duration
	injected   int
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
)

// New wraps be with no faults armed.
func New(be backend.Backend) *Backend {
	return &Backend{be: be, fail: make(map[Op]int)}
}

// Fail makes the next n calls of op fail with ErrInjected without reaching
// the backend.
func (b *Backend) Fail(op Op, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail[op] += n
}

// ShortReads makes the next n loads hand fn a reader that fails with
// ErrInjected after half the bytes (a dropped connection mid-transfer).
func (b *Backend) ShortReads(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.shortReads += n
}

// LoseSaves makes the next n saves store the file and then report
// ErrInjected, as when the answer to a finished upload is lost.
func (b *Backend) LoseSaves(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lostSaves += n
}

// Delay makes every later call wait d first (0 turns it off).
func (b *Backend) Delay(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delay = d
}

// Injected reports how many faults were injected so far.
func (b *Backend) Injected() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.injected
}

// take consumes one armed fault from *counter, if any.
func (b *Backend) take(counter *int) bool {
	if *counter <= 0 {
		return false
	}
	*counter--
	b.injected++
	return true
}

// enter applies the delay and reports whether the call must fail.
func (b *Backend) enter(ctx context.Context, op Op) error {
	b.mu.Lock()
	d := b.delay
	n := b.fail[op]
	fail := b.take(&n)
	b.fail[op] = n
	b.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if fail {
		return fmt.Errorf("%s: %w", op, ErrInjected)
	}
	return nil
}

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.be }

// Properties implements backend.Backend.
func (b *Backend) Properties() backend.Properties { return b.be.Properties() }

// Close implements backend.Backend.
func (b *Backend) Close() error { return b.be.Close() }

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := b.enter(ctx, OpSave); err != nil {
		return err
	}
	if err := b.be.Save(ctx, h, rd); err != nil {
		return err
	}
	b.mu.Lock()
	lost := b.take(&b.lostSaves)
	b.mu.Unlock()
	if lost {
		return fmt.Errorf("save %v: answer lost: %w", h, ErrInjected)
	}
	return nil
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := b.enter(ctx, OpLoad); err != nil {
		return err
	}
	b.mu.Lock()
	short := b.take(&b.shortReads)
	b.mu.Unlock()
	if !short {
		return b.be.Load(ctx, h, length, offset, fn)
	}
	return b.be.Load(ctx, h, length, offset, func(rd io.Reader) error {
		data, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if err := fn(io.MultiReader(bytes.NewReader(data[:len(data)/2]), errReader{})); err != nil {
			// The callback failed on a broken connection: transient.
			return fmt.Errorf("load %v: %w", h, ErrInjected)
		}
		return nil
	})
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := b.enter(ctx, OpStat); err != nil {
		return backend.FileInfo{}, err
	}
	return b.be.Stat(ctx, h)
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := b.enter(ctx, OpList); err != nil {
		return err
	}
	return b.be.List(ctx, t, fn)
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := b.enter(ctx, OpRemove); err != nil {
		return err
	}
	return b.be.Remove(ctx, h)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, ErrInjected }
