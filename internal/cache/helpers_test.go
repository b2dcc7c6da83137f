package cache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/cache"
)

// testRepoID is the repository ID every test cache uses.
const testRepoID = "3f0c4a8f6a4e1d2b9c7e5f3a1b0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"

// TestMain lets a test re-execute its own binary as a second process: with
// helperEnv set, the binary runs one helper (see helpers in
// process_test.go) instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// warnings collects what a cache reports through Options.Warn.
type warnings struct {
	mu   sync.Mutex
	errs []error // guarded by mu
}

func (w *warnings) warn(err error) {
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
}

func (w *warnings) list() []error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]error(nil), w.errs...)
}

// noWarnings fails the test if w received anything.
func (w *warnings) none(t *testing.T) {
	t.Helper()
	for _, err := range w.list() {
		t.Errorf("unexpected cache warning: %v", err)
	}
}

// openCache opens a cache under base for testRepoID and fails the test on
// error. Warnings go to the returned collector.
func openCache(t *testing.T, base string, opts cache.Options) (*cache.Cache, *warnings) {
	t.Helper()
	w := &warnings{}
	if opts.Warn == nil {
		opts.Warn = w.warn
	}
	c, err := cache.Open(base, testRepoID, opts)
	if err != nil {
		t.Fatalf("Open(%s) = %v, want nil", base, err)
	}
	return c, w
}

// content returns deterministic pseudo-random bytes for seed, and their
// name (hex SHA-256), identical in every process.
func content(seed uint64, n int) ([]byte, string) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	return buf, hashName(buf)
}

func hashName(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// put saves a file with deterministic content into be and returns its
// handle and bytes.
func put(t testing.TB, be backend.Backend, typ backend.FileType, seed uint64, n int) (backend.Handle, []byte) {
	t.Helper()
	data, name := content(seed, n)
	h := backend.Handle{Type: typ, Name: name}
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save(%v) = %v", h, err)
	}
	return h, data
}

// entryPath is where the cache keeps h, in restic's layout.
func entryPath(c *cache.Cache, h backend.Handle) string {
	dir := map[backend.FileType]string{backend.PackFile: "data", backend.IndexFile: "index", backend.SnapshotFile: "snapshots"}[h.Type]
	return filepath.Join(c.Dir, dir, h.Name[:2], h.Name)
}

// checkEntry fails the test unless the cache holds h with the right bytes.
func checkEntry(t *testing.T, c *cache.Cache, h backend.Handle) {
	t.Helper()
	b, err := os.ReadFile(entryPath(c, h))
	if err != nil {
		t.Errorf("cache entry %v: %v", h, err)
		return
	}
	if got := hashName(b); got != h.Name {
		t.Errorf("cache entry %v holds %d bytes with sha256 %.8s, want %.8s", h, len(b), got, h.Name)
	}
}

// exists reports whether path exists.
func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// age sets the mtime of path to d ago.
func age(t *testing.T, path string, d time.Duration) {
	t.Helper()
	when := time.Now().Add(-d)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// junk returns the temporary and lock files under dir.
func junk(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, f := range files(t, dir) {
		if b := filepath.Base(f); strings.HasPrefix(b, "tmp-") || strings.HasSuffix(b, ".lock") {
			out = append(out, f)
		}
	}
	return out
}

// countingBackend counts the loads of each file (downloads, from the
// cache's point of view), optionally slowed down so that concurrent
// callers overlap, and optionally appends each load's file name to a log
// file shared by several processes.
type countingBackend struct {
	backend.Backend
	delay time.Duration
	log   string // file to append "name\n" to per load; "" for none

	mu    sync.Mutex
	loads map[string]int // guarded by mu
}

func newCounting(delay time.Duration) *countingBackend {
	return &countingBackend{Backend: mem.New(), delay: delay, loads: map[string]int{}}
}

func (b *countingBackend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	b.mu.Lock()
	b.loads[h.Name]++
	b.mu.Unlock()
	if b.log != "" {
		f, err := os.OpenFile(b.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(f, "%s\n", h.Name) // one short O_APPEND write: atomic
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	time.Sleep(b.delay)
	return b.Backend.Load(ctx, h, length, offset, fn)
}

func (b *countingBackend) count(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.loads[name]
}

// helperCmd returns a command that runs this test binary as helper mode
// with env added.
func helperCmd(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	return cmd
}
