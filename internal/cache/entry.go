package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// errBadEntry marks a cached file whose content does not match its name.
var errBadEntry = errors.New("cache entry does not match its name")

// open returns the cached file for h, verified (once per process for
// packs, on every open for small files), or an error matching
// fs.ErrNotExist. A bad entry is removed and reported as missing.
func (c *Cache) open(h backend.Handle) (*os.File, error) {
	if c.Disabled() {
		return nil, fs.ErrNotExist
	}
	p, ok := c.path(h)
	if !ok {
		return nil, fs.ErrNotExist
	}
	f, err := os.Open(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.warn("read", fmt.Errorf("cache: %w", err))
			return nil, fs.ErrNotExist
		}
		return nil, err
	}
	if _, done := c.verified.Load(p); done && h.Type == backend.PackFile {
		return f, nil
	}
	sum := sha256.New()
	_, err = io.Copy(sum, f)
	if err == nil && hex.EncodeToString(sum.Sum(nil)) != h.Name {
		err = errBadEntry
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		c.drop(p)
		return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
	}
	c.verified.Store(p, true)
	return f, nil
}

// drop removes a cache entry; missing is fine.
func (c *Cache) drop(p string) {
	c.verified.Delete(p)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.warn("remove", fmt.Errorf("cache: %w", err))
	}
}

// Forget removes the cached copy of h, if any.
func (c *Cache) Forget(h backend.Handle) {
	if p, ok := c.path(h); ok {
		c.drop(p)
	}
}

// store writes what fill produces as the entry for h: into a temporary
// file beside it, synced, checked against the name, renamed into place. A
// concurrent writer of the same entry is harmless: both rename the same
// bytes. Failures that mean the cache cannot work (read-only, full,
// permissions) abandon the cache.
func (c *Cache) store(h backend.Handle, fill func(io.Writer) error) (int64, error) {
	if c.Disabled() {
		return 0, errors.New("cache disabled")
	}
	p, ok := c.path(h)
	if !ok {
		return 0, fmt.Errorf("cache: %v is not cached", h)
	}
	var n int64
	err := c.storeOnce(p, h, fill, &n)
	if vanished(err) {
		// The directory vanished (removed by hand, or by a cleanup
		// elsewhere): set it up again once.
		if mkErr := os.MkdirAll(filepath.Dir(p), 0o700); mkErr == nil {
			err = c.storeOnce(p, h, fill, &n)
		}
	}
	var src *sourceError
	if errors.As(err, &src) {
		return n, src.err // the backend failed, not the cache
	}
	if err != nil && !errors.Is(err, errBadEntry) && !isCancel(err) {
		c.abandon(err)
	}
	return n, err
}

// vanished reports errors that mean a directory was removed while in use
// (by a cleanup elsewhere): "does not exist", or "exists" from
// os.MkdirAll, which returns its Mkdir's EEXIST when the path is gone
// again by the time it checks it.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)
}

// sourceError wraps failures of the data source, which say nothing about
// the cache.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (c *Cache) storeOnce(p string, h backend.Handle, fill func(io.Writer) error, n *int64) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := createTemp(dir)
	if err != nil {
		return err
	}
	tmp := f.Name()
	sum := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, sum)}
	if err = fill(cw); err != nil && !errors.Is(err, errWrite) {
		err = &sourceError{err}
	}
	if err == nil && hex.EncodeToString(sum.Sum(nil)) != h.Name {
		err = fmt.Errorf("%w: %v", errBadEntry, h)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	*n = cw.n
	c.verified.Store(p, true)
	c.debug("cache stored", "handle", h.String(), "size", cw.n)
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

// errWrite marks failures to write the cache file, as opposed to failures
// to read what goes into it.
var errWrite = errors.New("write cache file")

func (w *countWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("%w: %w", errWrite, err)
	}
	return n, nil
}

// touch marks an entry as used now (for least-recently-used eviction).
func touch(p string) {
	now := time.Now()
	_ = os.Chtimes(p, now, now)
}

// isFull reports errors that mean the cache's file system is out of space.
func isFull(err error) bool { return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) }
