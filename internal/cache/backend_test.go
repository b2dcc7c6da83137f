package cache_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/cache"
)

// TestConformance: the decorator is a backend like any other.
func TestConformance(t *testing.T) {
	t.Run("Wrap", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			c, w := openCache(t, t.TempDir(), cache.Options{})
			t.Cleanup(func() { w.none(t) })
			return c.Wrap(mem.New())
		})
	})
	// Every saved pack is warmed too (as the pack writer does with tree
	// packs), so that pack loads, ranges included, come from the cache.
	t.Run("WarmOnSave", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			c, w := openCache(t, t.TempDir(), cache.Options{})
			t.Cleanup(func() { w.none(t) })
			return warmOnSave{c.Wrap(mem.New())}
		})
	})
}

type warmOnSave struct{ *cache.Backend }

func (b warmOnSave) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := b.Backend.Save(ctx, h, rd); err != nil {
		return err
	}
	if h.Type == backend.PackFile {
		return b.Warm(ctx, h)
	}
	return nil
}

// TestWarmSingleFlight: concurrent Warm calls for one pack in one process
// download it once.
func TestWarmSingleFlight(t *testing.T) {
	c, w := openCache(t, t.TempDir(), cache.Options{})
	be := newCounting(50 * time.Millisecond)
	cb := c.Wrap(be)
	var hs []backend.Handle
	for i := range 4 {
		h, _ := put(t, be, backend.PackFile, uint64(i), 64<<10)
		hs = append(hs, h)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, h := range hs {
		for range 8 {
			wg.Go(func() {
				<-start
				if err := cb.Warm(t.Context(), h); err != nil {
					t.Errorf("Warm(%v) = %v", h, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	for _, h := range hs {
		if n := be.count(h.Name); n != 1 {
			t.Errorf("8 concurrent Warm(%.8s): %d downloads, want 1", h.Name, n)
		}
		checkEntry(t, c, h)
	}
	// Warm of a cached pack downloads nothing; loads come from the cache.
	for _, h := range hs {
		if err := cb.Warm(t.Context(), h); err != nil {
			t.Fatal(err)
		}
		if _, err := backend.LoadAll(t.Context(), cb, h); err != nil {
			t.Fatal(err)
		}
		if n := be.count(h.Name); n != 1 {
			t.Errorf("pack %.8s: %d downloads after warm and load of the cached copy, want 1", h.Name, n)
		}
	}
	w.none(t)
}

// TestWarmLockAcrossCaches: caches that share nothing but the directory
// (like processes) serialize on the entry's flock: one download.
func TestWarmLockAcrossCaches(t *testing.T) {
	base := t.TempDir()
	be := newCounting(50 * time.Millisecond)
	h, _ := put(t, be, backend.PackFile, 1, 64<<10)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 8 {
		c, w := openCache(t, base, cache.Options{})
		cb := c.Wrap(be)
		wg.Go(func() {
			<-start
			if err := cb.Warm(t.Context(), h); err != nil {
				t.Errorf("Warm = %v", err)
			}
			w.none(t)
		})
	}
	close(start)
	wg.Wait()
	if n := be.count(h.Name); n != 1 {
		t.Errorf("8 caches warming one pack: %d downloads, want 1", n)
	}
}

// TestWarmMissing: warming a pack the backend does not have is an error
// for that call only; the cache goes on.
func TestWarmMissing(t *testing.T) {
	c, w := openCache(t, t.TempDir(), cache.Options{})
	cb := c.Wrap(mem.New())
	_, name := content(1, 10)
	if err := cb.Warm(t.Context(), backend.Handle{Type: backend.PackFile, Name: name}); err == nil {
		t.Error("Warm(missing) = nil, want error")
	}
	if c.Disabled() {
		t.Error("a missing backend file disabled the cache")
	}
	if j := junk(t, c.Dir); len(j) > 0 {
		t.Errorf("left behind: %q", j)
	}
	w.none(t)
}

// TestStoreConcurrent: eight writers of one entry at once (Save in one
// cache, and misses in eight caches on the same directory) all succeed
// and leave one whole entry and no temporary files.
func TestStoreConcurrent(t *testing.T) {
	base := t.TempDir()
	for round := range 10 {
		m := mem.New()
		data, name := content(uint64(round), 200<<10)
		h := backend.Handle{Type: backend.IndexFile, Name: name}
		c, w := openCache(t, base, cache.Options{})
		cb := c.Wrap(m)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				if err := cb.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
					t.Errorf("Save = %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		checkEntry(t, c, h)
		if err := os.Remove(entryPath(c, h)); err != nil {
			t.Fatal(err)
		}

		start = make(chan struct{})
		for range 8 {
			c, w := openCache(t, base, cache.Options{})
			cb := c.Wrap(m)
			wg.Go(func() {
				<-start
				got, err := backend.LoadAll(t.Context(), cb, h)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("LoadAll = %d bytes, %v, want %d bytes", len(got), err, len(data))
				}
				w.none(t)
				if c.Disabled() {
					t.Error("cache disabled")
				}
			})
		}
		close(start)
		wg.Wait()
		checkEntry(t, c, h)
		if j := junk(t, base); len(j) > 0 {
			t.Fatalf("round %d: temporary files left: %q", round, j)
		}
		w.none(t)
	}
}

// TestBadEntries: truncated, bit-flipped, emptied or swapped cache entries
// are never served: a new process (a new cache) loads the right bytes
// from the backend and replaces the entry with a good one, silently.
func TestBadEntries(t *testing.T) {
	damage := map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"empty":     func([]byte) []byte { return nil },
		"bit flip":  func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/3] ^= 0x10; return b },
		"appended":  func(b []byte) []byte { return append(bytes.Clone(b), 0) },
		"other":     func([]byte) []byte { d, _ := content(99, 500); return d },
	}
	for dname, fn := range damage {
		for _, typ := range []backend.FileType{backend.IndexFile, backend.SnapshotFile, backend.PackFile} {
			t.Run(dname+"/"+typ.String(), func(t *testing.T) {
				base := t.TempDir()
				m := mem.New()
				h, data := put(t, m, typ, 7, 3000)
				c, _ := openCache(t, base, cache.Options{})
				if err := c.Wrap(m).Warm(t.Context(), h); err != nil {
					t.Fatal(err)
				}
				checkEntry(t, c, h)
				if err := os.WriteFile(entryPath(c, h), fn(data), 0o600); err != nil {
					t.Fatal(err)
				}

				c, w := openCache(t, base, cache.Options{})
				be := newCounting(0)
				be.Backend = m
				cb := c.Wrap(be)
				if typ == backend.PackFile {
					// Tree packs are used through Warm, then ranged loads.
					if err := cb.Warm(t.Context(), h); err != nil {
						t.Fatal(err)
					}
				}
				var got []byte
				err := cb.Load(t.Context(), h, 1000, 1000, func(rd io.Reader) error {
					var err error
					got, err = io.ReadAll(rd)
					return err
				})
				if err != nil || !bytes.Equal(got, data[1000:2000]) {
					t.Errorf("Load(1000 bytes at 1000) = %d bytes, %v, want the backend's", len(got), err)
				}
				if got, err := backend.LoadAll(t.Context(), cb, h); err != nil || !bytes.Equal(got, data) {
					t.Errorf("LoadAll = %d bytes, %v, want the backend's %d", len(got), err, len(data))
				}
				if n := be.count(h.Name); n != 1 {
					t.Errorf("%d downloads, want 1 (the bad entry replaced once)", n)
				}
				checkEntry(t, c, h)
				if c.Disabled() {
					t.Error("a bad entry disabled the cache")
				}
				w.none(t)
			})
		}
	}
}

// TestAbandonOnce: a cache that cannot be written is abandoned with one
// warning; the caller sees no error, then and later, and every file still
// loads, from the backend.
func TestAbandonOnce(t *testing.T) {
	c, w := openCache(t, t.TempDir(), cache.Options{})
	m := mem.New()
	be := c.Wrap(m)
	// The index directory is a file now: no entry can be stored in it.
	if err := os.RemoveAll(filepath.Join(c.Dir, "index")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "index"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var hs []backend.Handle
	for i := range 5 {
		h, _ := put(t, be, backend.IndexFile, uint64(i), 100)
		hs = append(hs, h)
	}
	snap, _ := put(t, be, backend.SnapshotFile, 10, 100)
	pack, _ := put(t, m, backend.PackFile, 11, 1000)
	if err := be.Warm(t.Context(), pack); err != nil {
		t.Errorf("Warm on an abandoned cache = %v, want nil", err)
	}
	for _, h := range append(hs, snap, pack) {
		if got, err := backend.LoadAll(t.Context(), be, h); err != nil || hashName(got) != h.Name {
			t.Errorf("LoadAll(%v) = %v, want its content", h, err)
		}
	}
	if err := be.List(t.Context(), backend.IndexFile, func(backend.FileInfo) error { return nil }); err != nil {
		t.Errorf("List = %v", err)
	}
	if !c.Disabled() {
		t.Error("Disabled() = false, want true")
	}
	if errs := w.list(); len(errs) != 1 {
		t.Errorf("warnings = %q, want exactly one", errs)
	}
	if exists(t, entryPath(c, snap)) {
		t.Error("an abandoned cache still stores entries")
	}
}

// removingReader is a RewindReader that, on the first read after its
// rewinds-th rewind, removes dir: a cleanup in another process removing
// the cache directory while an entry is being stored.
type removingReader struct {
	backend.RewindReader
	dir      string
	rewinds  int
	n        int
	consumed bool
}

func (r *removingReader) Rewind() error {
	r.n++
	return r.RewindReader.Rewind()
}

func (r *removingReader) Read(p []byte) (int, error) {
	if r.n == r.rewinds && !r.consumed {
		r.consumed = true
		_ = os.RemoveAll(r.dir)
	}
	return r.RewindReader.Read(p)
}

// TestSaveDirRemovedDuringStore: the cache directory vanishes while a
// saved file is being copied into the cache (after the temporary file was
// created, before the rename). The store sets the directory up again and
// the entry is cached, with no warning.
func TestSaveDirRemovedDuringStore(t *testing.T) {
	c, w := openCache(t, t.TempDir(), cache.Options{})
	be := c.Wrap(mem.New())
	for _, typ := range []backend.FileType{backend.IndexFile, backend.SnapshotFile} {
		data, name := content(uint64(typ), 5000)
		h := backend.Handle{Type: typ, Name: name}
		// Rewinds: none before the backend's Save, one before the cache's copy.
		rd := &removingReader{RewindReader: backend.NewByteReader(data), dir: c.Dir, rewinds: 1}
		if err := be.Save(t.Context(), h, rd); err != nil {
			t.Fatalf("Save = %v", err)
		}
		if !rd.consumed {
			t.Fatal("the directory was not removed during the store")
		}
		checkEntry(t, c, h)
	}
	w.none(t)
	if c.Disabled() {
		t.Error("cache disabled")
	}
}
