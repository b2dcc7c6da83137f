// Package limiter is a [backend.Backend] decorator that caps the bandwidth
// of uploads and downloads (restic's --limit-upload and --limit-download).
// The caps hold for the whole process: all concurrent transfers share them.
package limiter

import (
	"context"
	"io"

	"golang.org/x/time/rate"

	"github.com/cairn-backup/cairn/internal/backend"
)

// chunk is the most a single read passes on at once; it is also the burst
// a limiter allows, so short pauses are not saved up into long bursts.
const chunk = 64 << 10

// Backend limits the bytes per second read from Save's readers and from
// Load's readers.
type Backend struct {
	be       backend.Backend
	up, down *rate.Limiter // nil: unlimited
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
)

// New wraps be with upload and download caps in bytes per second (0: no
// cap). With neither cap it returns be itself.
func New(be backend.Backend, upload, download int64) backend.Backend {
	if upload <= 0 && download <= 0 {
		return be
	}
	return &Backend{be: be, up: newLimiter(upload), down: newLimiter(download)}
}

func newLimiter(bytesPerSec int64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bytesPerSec), chunk)
}

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.be }

// Properties implements backend.Backend.
func (b *Backend) Properties() backend.Properties { return b.be.Properties() }

// Close implements backend.Backend.
func (b *Backend) Close() error { return b.be.Close() }

// Save implements backend.Backend; the upload is read at the capped rate.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if b.up == nil {
		return b.be.Save(ctx, h, rd)
	}
	return b.be.Save(ctx, h, &limitedRewinder{RewindReader: rd, r: reader{ctx: ctx, rd: rd, l: b.up}})
}

// Load implements backend.Backend; fn reads at the capped rate.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if b.down == nil {
		return b.be.Load(ctx, h, length, offset, fn)
	}
	return b.be.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(&reader{ctx: ctx, rd: rd, l: b.down})
	})
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	return b.be.Stat(ctx, h)
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	return b.be.List(ctx, t, fn)
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	return b.be.Remove(ctx, h)
}

// reader passes at most chunk bytes per Read, each after the limiter
// allows them.
type reader struct {
	ctx context.Context
	rd  io.Reader
	l   *rate.Limiter
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) > chunk {
		p = p[:chunk]
	}
	n, err := r.rd.Read(p)
	if n > 0 {
		if werr := r.l.WaitN(r.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

// limitedRewinder is a RewindReader whose reads go through the limiter.
type limitedRewinder struct {
	backend.RewindReader
	r reader
}

func (l *limitedRewinder) Read(p []byte) (int, error) { return l.r.Read(p) }
