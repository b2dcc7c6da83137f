package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/cairn-backup/cairn/internal/backend"
	"golang.org/x/sys/unix"
)

// Backend is a backend.Backend decorator that serves index, snapshot and
// (warmed) tree pack files from the cache. Index and snapshot files are
// cached whenever they are saved or loaded; packs only when Warm asks, or
// when the repository hands a pack it has just written to Keep.
type Backend struct {
	backend.Backend
	c *Cache

	mu     sync.Mutex
	flight map[string]*sync.WaitGroup // packs being warmed by this process; guarded by mu
}

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Cacher  = (*Backend)(nil)
)

// Wrap returns be with the cache in front of it.
func (c *Cache) Wrap(be backend.Backend) *Backend {
	return &Backend{Backend: be, c: c, flight: map[string]*sync.WaitGroup{}}
}

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// Cache returns the cache.
func (b *Backend) Cache() *Cache { return b.c }

func autoCached(t backend.FileType) bool {
	return t == backend.IndexFile || t == backend.SnapshotFile
}

// Save implements backend.Backend: saved index and snapshot files are
// cached too.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := b.Backend.Save(ctx, h, rd); err != nil {
		return err
	}
	if autoCached(h.Type) && !b.c.Disabled() {
		_, _ = b.c.store(h, func(w io.Writer) error {
			// store may call fill twice (once more after the directory
			// vanished): start from the beginning each time.
			if err := rd.Rewind(); err != nil {
				return err
			}
			_, err := io.Copy(w, rd)
			return err
		})
	}
	return nil
}

// Load implements backend.Backend: from the cache when the file is there
// (verified), otherwise from the backend, caching index and snapshot files
// on the way.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if _, ok := b.c.path(h); !ok || b.c.Disabled() {
		return b.Backend.Load(ctx, h, length, offset, fn)
	}
	if err := b.loadCached(h, length, offset, fn); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if autoCached(h.Type) {
		if _, err := b.fetch(ctx, h); err == nil {
			if err := b.loadCached(h, length, offset, fn); !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return b.Backend.Load(ctx, h, length, offset, fn)
}

// loadCached serves a load from the cache; fs.ErrNotExist means a miss
// (an entry that could not be read counts as one).
func (b *Backend) loadCached(h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if backend.InvalidRange(offset, length) {
		return backend.Permanent(fmt.Errorf("load %v: invalid range %d+%d", h, offset, length))
	}
	f, err := b.c.open(h)
	if err != nil {
		return fs.ErrNotExist
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return fs.ErrNotExist
	}
	end := fi.Size()
	if length > 0 {
		end = offset + int64(length)
	}
	if offset > fi.Size() || end > fi.Size() {
		return backend.Permanent(fmt.Errorf("load %v: range %d+%d beyond size %d", h, offset, length, fi.Size()))
	}
	if h.Type == backend.PackFile {
		touch(f.Name())
	}
	// A cached file that fails to read (a bad disk under the cache) is a
	// miss, not a failure: the entry goes and the backend serves the load.
	// Load callbacks may run again, as for any retried load.
	tr := &backend.ReadTracker{R: io.NewSectionReader(f, offset, end-offset)}
	err = fn(tr)
	if err != nil && tr.Err != nil {
		b.c.warn("read", fmt.Errorf("cache: %w", tr.Err))
		b.c.drop(f.Name())
		return fmt.Errorf("%w: %v", fs.ErrNotExist, tr.Err)
	}
	return err
}

// fetch downloads h whole into the cache.
func (b *Backend) fetch(ctx context.Context, h backend.Handle) (int64, error) {
	return b.c.store(h, func(w io.Writer) error {
		return b.Backend.Load(ctx, h, 0, 0, func(rd io.Reader) error {
			_, err := io.Copy(w, rd)
			return err
		})
	})
}

// Remove implements backend.Backend and drops the cached copy.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	err := b.Backend.Remove(ctx, h)
	b.c.Forget(h)
	return err
}

// List implements backend.Backend. After a complete listing of index or
// snapshot files, cached files of that type the backend no longer has are
// removed (unless younger than the grace period).
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if !autoCached(t) || b.c.Disabled() {
		return b.Backend.List(ctx, t, fn)
	}
	seen := map[string]struct{}{}
	err := b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
		seen[fi.Name] = struct{}{}
		return fn(fi)
	})
	if err == nil {
		b.c.Clear(t, func(name string) bool { _, ok := seen[name]; return ok })
	}
	return err
}

// Warm implements backend.Cacher: it makes sure a copy of h is in the
// cache, downloading it if needed. Within the process concurrent calls for
// one file wait for a single download; across processes an advisory lock
// on a per-file lock file does the same where the platform supports it.
func (b *Backend) Warm(ctx context.Context, h backend.Handle) error {
	if _, ok := b.c.path(h); !ok || b.c.Disabled() {
		return nil
	}
	b.mu.Lock()
	if wg, ok := b.flight[h.Name]; ok {
		b.mu.Unlock()
		wg.Wait()
		return nil
	}
	wg := &sync.WaitGroup{}
	wg.Add(1)
	b.flight[h.Name] = wg
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.flight, h.Name)
		b.mu.Unlock()
		wg.Done()
	}()

	if f, err := b.c.open(h); err == nil {
		touch(f.Name())
		_ = f.Close()
		return nil
	}
	unlock := b.c.lockEntry(h)
	defer unlock()
	if f, err := b.c.open(h); err == nil { // another process was faster
		_ = f.Close()
		return nil
	}
	n, err := b.fetch(ctx, h)
	if err != nil {
		return err
	}
	if h.Type == backend.PackFile {
		b.c.addPackBytes(n)
	}
	return nil
}

// Keep implements backend.Cacher: it stores the bytes of rd, a file just
// saved as h, as the cached copy of h, the way every entry is written
// (temporary file, fsync, check against the name, rename). A copy that is
// there already is left alone.
func (b *Backend) Keep(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if _, ok := b.c.path(h); !ok || b.c.Disabled() {
		return nil
	}
	if f, err := b.c.open(h); err == nil {
		touch(f.Name())
		_ = f.Close()
		return nil
	}
	n, err := b.c.store(h, func(w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// store may call fill twice: start from the beginning each time.
		if err := rd.Rewind(); err != nil {
			return err
		}
		_, err := io.Copy(w, rd)
		return err
	})
	if err != nil {
		return err
	}
	if h.Type == backend.PackFile {
		b.c.addPackBytes(n)
	}
	return nil
}

// lockEntry takes an advisory lock for downloading h and returns its
// release. Without locking support it returns a no-op.
func (c *Cache) lockEntry(h backend.Handle) func() {
	p, _ := c.path(h)
	lp := p + lockSuffix
	f, err := os.OpenFile(lp, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		if mkErr := os.MkdirAll(dirOf(lp), 0o700); mkErr == nil {
			f, err = os.OpenFile(lp, os.O_CREATE|os.O_RDWR, 0o600)
		}
		if err != nil {
			return func() {}
		}
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close()
		return func() {}
	}
	return func() {
		// Remove first, then unlock: a process that opened the file
		// before the removal may still lock it and download again, which
		// is wasteful but correct.
		_ = os.Remove(lp)
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		_ = f.Close()
	}
}

// lockSuffix marks per-entry lock files; cleanup skips and sweeps them.
const lockSuffix = ".lock"

// ClearPacks implements backend.Cacher: it removes cached packs for which
// keep is false (see Clear).
func (b *Backend) ClearPacks(keep func(name string) bool) { b.c.Clear(backend.PackFile, keep) }
