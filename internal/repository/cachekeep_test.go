package repository_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/cache"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
)

// loadCounter counts the loads of each pack that reach the backend below
// the cache.
type loadCounter struct {
	backend.Backend
	mu    sync.Mutex
	packs map[string]int
}

func (b *loadCounter) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if h.Type == backend.PackFile {
		b.mu.Lock()
		b.packs[h.Name]++
		b.mu.Unlock()
	}
	return b.Backend.Load(ctx, h, length, offset, fn)
}

func (b *loadCounter) Unwrap() backend.Backend { return b.Backend }

func (b *loadCounter) total() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.packs {
		n += c
	}
	return n
}

// TestTreePacksKeptOnSave checks that a write session puts its tree packs
// into the cache as it saves them, through the backend's Save and through
// the local backend's MoveFile: no pack is loaded from the backend, not
// while writing and not when a later run reads the trees; the cache
// entries hash to their names; data packs are not cached.
func TestTreePacksKeptOnSave(t *testing.T) {
	for _, tt := range []struct {
		name string
		be   func(t *testing.T) backend.Backend
	}{
		{"mem", func(*testing.T) backend.Backend { return mem.New() }},
		{"local", func(t *testing.T) backend.Backend {
			b, err := local.Create(filepath.Join(t.TempDir(), "repo"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			counter := &loadCounter{Backend: tt.be(t), packs: map[string]int{}}
			newWriteRepo(t, counter, 2, repository.CompressionAuto)
			base := t.TempDir()
			var dir string
			opts := repository.Options{Decorate: func(repoID string, be backend.Backend) backend.Backend {
				c, err := cache.Open(base, repoID, cache.Options{})
				if err != nil {
					t.Fatalf("cache.Open: %v", err)
				}
				dir = c.Dir
				return c.Wrap(be)
			}}
			open := func() *repository.Repository {
				r, err := repository.Open(t.Context(), counter, writePassword, opts)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.LoadIndex(t.Context()); err != nil {
					t.Fatal(err)
				}
				return r
			}

			r := open()
			src := newBlobSource(7)
			trees := [][]byte{src.tree(2000), src.tree(3000)}
			startWriting(t, r, repository.WriteOptions{})
			for _, tr := range trees {
				saveNew(t, r, blob.Tree, tr)
			}
			data := src.random(5000)
			saveNew(t, r, blob.Data, data)
			finish(t, r)
			if n := counter.total(); n != 0 {
				t.Fatalf("writing loaded packs %d times from the backend (%v), want 0", n, counter.packs)
			}

			packOf := func(typ blob.Type, plain []byte) string {
				e := r.Index().Lookup(blob.Handle{ID: id.Hash(plain), Type: typ})
				if len(e) == 0 {
					t.Fatalf("%v blob not in the index", typ)
				}
				return e[0].PackID.String()
			}
			cached := func(name string) string { return filepath.Join(dir, "data", name[:2], name) }
			if _, err := os.Stat(cached(packOf(blob.Data, data))); err == nil {
				t.Errorf("data pack is cached")
			}
			for _, tr := range trees {
				name := packOf(blob.Tree, tr)
				raw, err := os.ReadFile(cached(name))
				if err != nil {
					t.Fatalf("tree pack %.8s not in the cache: %v", name, err)
				}
				if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != name {
					t.Errorf("cached tree pack %.8s does not hash to its name", name)
				}
			}

			r2 := open() // a later run: a fresh cache handle, nothing verified yet
			for _, tr := range trees {
				got, err := r2.LoadBlob(t.Context(), blob.Handle{ID: id.Hash(tr), Type: blob.Tree})
				if err != nil || string(got) != string(tr) {
					t.Fatalf("LoadBlob(tree) = %d bytes, %v", len(got), err)
				}
			}
			if n := counter.total(); n != 0 {
				t.Errorf("reading the trees loaded packs %d times from the backend (%v), want 0", n, counter.packs)
			}
		})
	}
}
