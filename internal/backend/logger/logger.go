// Package logger is a backend decorator that writes a debug line for each
// operation: its name, the handle, the duration and the error, if any.
// It is only put into a stack when debug logging is on, so that it costs
// nothing otherwise.
package logger

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Backend logs the operations on the backend it wraps.
type Backend struct {
	be  backend.Backend
	log *slog.Logger
}

var _ backend.Backend = (*Backend)(nil)

// New returns be with each operation logged to log at debug level. A nil
// log returns be itself. If be is a backend.FileMover, so is the result,
// and its moves are logged too.
func New(be backend.Backend, log *slog.Logger) backend.Backend {
	if log == nil {
		return be
	}
	b := &Backend{be: be, log: log}
	if m, ok := be.(backend.FileMover); ok {
		return &mover{Backend: b, m: m}
	}
	return b
}

// mover logs a backend.FileMover.
type mover struct {
	*Backend
	m backend.FileMover
}

var _ backend.FileMover = (*mover)(nil)

// TempFile implements backend.FileMover.
func (b *mover) TempFile(t backend.FileType) (*os.File, error) { return b.m.TempFile(t) }

// MoveFile implements backend.FileMover.
func (b *mover) MoveFile(ctx context.Context, h backend.Handle, f *os.File) error {
	start := time.Now()
	err := b.m.MoveFile(ctx, h, f)
	b.done(ctx, "move", start, err, slog.String("handle", h.String()))
	return err
}

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() backend.Backend { return b.be }

// Properties implements backend.Backend.
func (b *Backend) Properties() backend.Properties { return b.be.Properties() }

// done writes the line of an operation that began at start.
func (b *Backend) done(ctx context.Context, op string, start time.Time, err error, attrs ...slog.Attr) {
	attrs = append(attrs, slog.Duration("duration", time.Since(start)))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	b.log.LogAttrs(ctx, slog.LevelDebug, "backend "+op, attrs...)
}

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	start := time.Now()
	err := b.be.Save(ctx, h, rd)
	b.done(ctx, "save", start, err, slog.String("handle", h.String()), slog.Int64("size", rd.Length()))
	return err
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	start := time.Now()
	err := b.be.Load(ctx, h, length, offset, fn)
	b.done(ctx, "load", start, err, slog.String("handle", h.String()), slog.Int64("offset", offset), slog.Int("length", length))
	return err
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	start := time.Now()
	fi, err := b.be.Stat(ctx, h)
	b.done(ctx, "stat", start, err, slog.String("handle", h.String()), slog.Int64("size", fi.Size))
	return fi, err
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	start := time.Now()
	n := 0
	err := b.be.List(ctx, t, func(fi backend.FileInfo) error {
		n++
		return fn(fi)
	})
	b.done(ctx, "list", start, err, slog.String("type", t.String()), slog.Int("files", n))
	return err
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	start := time.Now()
	err := b.be.Remove(ctx, h)
	b.done(ctx, "remove", start, err, slog.String("handle", h.String()))
	return err
}

// Close implements backend.Backend.
func (b *Backend) Close() error {
	start := time.Now()
	err := b.be.Close()
	b.done(context.Background(), "close", start, err)
	return err
}
