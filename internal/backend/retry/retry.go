// Package retry is a [backend.Backend] decorator that retries calls which
// failed transiently, waiting longer after each failure. Every remote
// backend is wrapped in it; the backends themselves never retry.
package retry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Options tune a Backend. Zero fields take the defaults.
type Options struct {
	// Attempts is how often a call is tried in all (default 10).
	Attempts int
	// Backoff is the wait after the first failure (default 250 ms); it
	// doubles after each further failure, up to MaxBackoff (default 10 s).
	// Each wait is shortened by a random jitter of up to a quarter.
	Backoff, MaxBackoff time.Duration
	// Report, if set, is told about every failure that will be retried:
	// the operation ("save data/0123…"), its error and the wait before the
	// next attempt. It is called on the failing call's goroutine.
	Report func(op string, err error, wait time.Duration)
}

// Backend retries the calls of the backend it wraps. Errors that
// [backend.IsPermanent] accepts (including ErrNotExist), context errors and
// errors from the caller's own callbacks end a call at once.
type Backend struct {
	be   backend.Backend
	opts Options
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
)

// New wraps be.
func New(be backend.Backend, opts Options) *Backend {
	return &Backend{be: be, opts: opts.withDefaults()}
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	if o.Attempts <= 0 {
		o.Attempts = 10
	}
	if o.Backoff <= 0 {
		o.Backoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	return o
}

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.be }

// Properties implements backend.Backend.
func (b *Backend) Properties() backend.Properties { return b.be.Properties() }

// Close implements backend.Backend.
func (b *Backend) Close() error { return b.be.Close() }

// callerError marks an error returned by the caller's callback, which is
// never retried here (the backend below decides about Load's callback).
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }
func (e *callerError) Unwrap() error { return e.err }

// final reports whether err ends the retrying.
func final(ctx context.Context, err error) bool {
	var ce *callerError
	return err == nil || backend.IsPermanent(err) || errors.As(err, &ce) ||
		ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// do runs attempt with the backend's options; see [Do].
func (b *Backend) do(ctx context.Context, op string, attempt func(n int) error) error {
	return Do(ctx, b.opts, op, attempt)
}

// Do runs attempt until it succeeds, fails finally, or the attempts are
// used up, waiting between attempts as opts say. attempt gets the number of
// the attempt, counting from 0. A final failure is a permanent error
// (see [backend.IsPermanent]), a context error, or an error of the caller's
// own callback; the error of the last attempt is returned. It serves
// calls outside a Backend too, such as opening one.
func Do(ctx context.Context, opts Options, op string, attempt func(n int) error) error {
	opts = opts.withDefaults()
	wait := opts.Backoff
	for n := 0; ; n++ {
		err := attempt(n)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if final(ctx, err) || n == opts.Attempts-1 {
			var ce *callerError
			if errors.As(err, &ce) {
				return ce.err
			}
			if err != nil && n > 0 && !final(ctx, err) {
				return fmt.Errorf("%w (gave up after %d attempts)", err, n+1)
			}
			return err
		}
		d := wait - time.Duration(rand.Int64N(int64(wait)/4+1))
		if opts.Report != nil {
			opts.Report(op, err, d)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, opts.MaxBackoff)
	}
}

// Save implements backend.Backend. Before trying again it rewinds rd and,
// unless the backend replaces files atomically, deals with whatever the
// failed attempt may have left under h: a complete file (the attempt
// succeeded but its answer was lost) is kept, anything else is removed.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	atomic := b.be.Properties().HasAtomicReplace
	return b.do(ctx, "save "+h.String(), func(n int) error {
		if n > 0 {
			if err := rd.Rewind(); err != nil {
				return backend.Permanent(fmt.Errorf("save %v: rewind: %w", h, err))
			}
			if !atomic {
				done, err := b.leftover(ctx, h, rd.Length())
				if done || err != nil {
					return err
				}
			}
		}
		err := b.be.Save(ctx, h, rd)
		if err != nil && n > 0 && !atomic && backend.IsPermanent(err) {
			// An earlier attempt that seemed to fail may have arrived
			// meanwhile (a stalled connection delivering late), and a
			// server that refuses overwrites then refuses this one.
			if ok, _ := b.complete(ctx, h, rd.Length()); ok {
				return nil
			}
		}
		return err
	})
}

// complete reports whether h is on the backend whole: of the right length
// and, for files named by the SHA-256 of their content (all but the
// config), hashing to its name.
func (b *Backend) complete(ctx context.Context, h backend.Handle, length int64) (bool, error) {
	fi, err := b.be.Stat(ctx, h)
	if err != nil || h.Type == backend.ConfigFile || fi.Size != length {
		return false, err
	}
	hash := sha256.New()
	err = b.be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		hash.Reset()
		_, err := io.Copy(hash, rd)
		return err
	})
	return err == nil && hex.EncodeToString(hash.Sum(nil)) == h.Name, nil
}

// leftover looks at what a failed save of h may have left and reports
// whether it is the complete file. Repository files other than the config
// are named by the SHA-256 of their content, so a file of the right length
// whose content hashes to its name is complete; it is kept, which also
// lets a save whose answer was lost finish on a server that refuses
// deletes (rest-server --append-only). Anything else is removed.
func (b *Backend) leftover(ctx context.Context, h backend.Handle, length int64) (bool, error) {
	ok, err := b.complete(ctx, h, length)
	if errors.Is(err, backend.ErrNotExist) {
		return false, nil
	}
	if ok || err != nil {
		return ok, err
	}
	if err := b.be.Remove(ctx, h); err != nil && !errors.Is(err, backend.ErrNotExist) {
		return false, err
	}
	return false, nil
}

// Load implements backend.Backend. fn may be called again after a
// transient failure, as the interface allows. An error of fn's own, one not
// caused by a failed read of the data, is returned at once.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	return b.do(ctx, "load "+h.String(), func(int) error {
		return b.be.Load(ctx, h, length, offset, func(rd io.Reader) error {
			tr := &backend.ReadTracker{R: rd}
			err := fn(tr)
			if err != nil && tr.Err == nil {
				return &callerError{err: err}
			}
			return err
		})
	})
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	var fi backend.FileInfo
	err := b.do(ctx, "stat "+h.String(), func(int) error {
		var err error
		fi, err = b.be.Stat(ctx, h)
		return err
	})
	return fi, err
}

// List implements backend.Backend. A listing that fails part way is
// started again, and files already passed to fn are not passed again.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	seen := make(map[string]struct{})
	return b.do(ctx, "list "+t.String(), func(int) error {
		return b.be.List(ctx, t, func(fi backend.FileInfo) error {
			if _, ok := seen[fi.Name]; ok {
				return nil
			}
			seen[fi.Name] = struct{}{}
			if err := fn(fi); err != nil {
				return &callerError{err: err}
			}
			return nil
		})
	})
}

// Remove implements backend.Backend. A file found missing after an attempt
// failed transiently counts as removed: that attempt may have removed it,
// and the caller cannot tell, so a remove of a missing file that first
// failed transiently reports success.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	return b.do(ctx, "remove "+h.String(), func(n int) error {
		err := b.be.Remove(ctx, h)
		if n > 0 && errors.Is(err, backend.ErrNotExist) {
			return nil
		}
		return err
	})
}
