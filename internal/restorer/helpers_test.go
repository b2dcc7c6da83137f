package restorer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"golang.org/x/sys/unix"
)

const password = "restorer-test"

// initRepo creates a repository in a new local directory and returns its
// path. Data is stored uncompressed, which keeps the race detector fast.
func initRepo(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatalf("local.Create(%s) = %v", dir, err)
	}
	kp, err := repository.FixedKeyParams(1024, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	o := repository.InitOptions{Version: 2, Params: kp}
	if _, err := repository.Init(t.Context(), be, password, o, repository.Options{Compression: repository.CompressionOff}); err != nil {
		t.Fatalf("repository.Init(%s) = %v", dir, err)
	}
	return dir
}

// openRepo opens the repository at dir through be (the local backend for
// dir when nil) and loads its index, as a restore command does.
func openRepo(t testing.TB, dir string, be backend.Backend) *repository.Repository {
	t.Helper()
	if be == nil {
		var err error
		if be, err = local.Open(dir); err != nil {
			t.Fatalf("local.Open(%s) = %v", dir, err)
		}
	}
	r, err := repository.Open(t.Context(), be, password, repository.Options{Compression: repository.CompressionOff})
	if err != nil {
		t.Fatalf("repository.Open(%s) = %v", dir, err)
	}
	if _, err := r.LoadIndex(t.Context()); err != nil {
		t.Fatalf("LoadIndex() = %v", err)
	}
	return r
}

// backup stores src (an absolute path) in the repository at dir, in packs
// of the minimum size, and returns the snapshot's root tree and the tree
// that holds src's entries.
func backup(t testing.TB, dir, src string) (top, sub id.ID) {
	t.Helper()
	ctx := t.Context()
	r := openRepo(t, dir, nil)
	if err := r.StartWriting(ctx, repository.WriteOptions{PackSize: repository.MinPackSize}); err != nil {
		t.Fatalf("StartWriting() = %v", err)
	}
	rep := &archReporter{}
	arch := archiver.New(r, archiver.Options{Polynomial: r.Config().ChunkerPolynomial, Progress: ui.NewProgress(rep, 0, false)})
	root, _, err := arch.Run(ctx, []string{src}, nil)
	if _, ferr := r.Finish(ctx); err == nil {
		err = ferr
	}
	if err != nil {
		t.Fatalf("archiver Run(%s) = %v", src, err)
	}
	if errs := rep.all(); len(errs) > 0 {
		t.Fatalf("archiver reported errors: %v", errs)
	}
	n := findNode(t, r, root, src)
	if n.Type != tree.TypeDir || n.Subtree == nil {
		t.Fatalf("node of %s has type %q, want a directory with a subtree", src, n.Type)
	}
	return root, *n.Subtree
}

// localBackend opens the local backend of the repository at dir.
func localBackend(dir string) (backend.Backend, error) { return local.Open(dir) }

// findNode returns the node at the absolute path p below the tree root.
func findNode(t testing.TB, r *repository.Repository, root id.ID, p string) *tree.Node {
	t.Helper()
	cur := root
	parts := strings.Split(strings.Trim(filepath.ToSlash(p), "/"), "/")
	for i, name := range parts {
		buf, err := r.LoadBlob(t.Context(), blob.Handle{ID: cur, Type: blob.Tree})
		if err != nil {
			t.Fatalf("LoadBlob(tree %v) = %v", cur.Str(), err)
		}
		tr, err := tree.Decode(buf)
		if err != nil {
			t.Fatalf("tree.Decode(%v) = %v", cur.Str(), err)
		}
		n := tr.Find(name)
		if n == nil {
			t.Fatalf("findNode(%s): %s is not in tree %v", p, name, cur.Str())
		}
		if i == len(parts)-1 {
			return n
		}
		if n.Subtree == nil {
			t.Fatalf("findNode(%s): %s has no subtree", p, name)
		}
		cur = *n.Subtree
	}
	t.Fatalf("findNode(%s): empty path", p)
	return nil
}

type archReporter struct {
	mu   sync.Mutex
	errs []string
}

func (a *archReporter) Problem(p ui.Problem) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, p.Item+": "+p.Err.Error())
}

func (a *archReporter) Status(ui.Status) {}
func (a *archReporter) Event(ui.Event)   {}

func (a *archReporter) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.errs...)
}

// errReporter collects what the restorer reports.
type errReporter struct {
	mu   sync.Mutex
	errs map[string]error
}

var _ ui.Printer = (*errReporter)(nil)

// progress returns a Progress reporting to e.
func (e *errReporter) progress() *ui.Progress { return ui.NewProgress(e, 0, false) }

func (e *errReporter) Problem(p ui.Problem) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.errs == nil {
		e.errs = map[string]error{}
	}
	e.errs[p.Item] = p.Err
}

func (e *errReporter) Status(ui.Status) {}
func (e *errReporter) Event(ui.Event)   {}

func (e *errReporter) get() map[string]error {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]error, len(e.errs))
	for k, v := range e.errs {
		out[k] = v
	}
	return out
}

// randomBytes returns n bytes of deterministic noise for seed.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// tree builders

type entry struct {
	path    string // relative, slash separated
	kind    byte   // 'f' file, 'd' dir, 'l' symlink, 'h' hard link to target
	data    []byte // file content
	target  string // symlink target, or the path a hard link points to
	mode    os.FileMode
	modTime time.Time
}

var base = time.Date(2021, 6, 7, 8, 9, 10, 123456789, time.UTC)

// writeTree creates the entries below dir. Times are set deepest first, so
// that creating entries does not change the directories' mtimes again.
func writeTree(t testing.TB, dir string, entries []entry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dir, filepath.FromSlash(e.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch e.kind {
		case 'd':
			err = os.MkdirAll(p, 0o755)
		case 'f':
			err = os.WriteFile(p, e.data, 0o600)
		case 'l':
			err = os.Symlink(e.target, p)
		case 'h':
			err = os.Link(filepath.Join(dir, filepath.FromSlash(e.target)), p)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		p := filepath.Join(dir, filepath.FromSlash(e.path))
		if e.kind == 'h' {
			continue
		}
		if e.kind != 'l' && e.mode != 0 {
			if err := os.Chmod(p, e.mode); err != nil {
				t.Fatal(err)
			}
		}
		if !e.modTime.IsZero() {
			setTimes(t, p, e.modTime)
		}
	}
}

// setTimes sets atime and mtime of p (not following a symlink).
func setTimes(t testing.TB, p string, mt time.Time) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatalf("set times of %s: %v", p, err)
	}
}

// sampleTree is a tree with files of many sizes, a file with a long run
// of zeros, nested directories with their own modes, symlinks (relative,
// absolute, dangling), a hard link and distinct mtimes.
func sampleTree() []entry {
	zeros := append(append(randomBytes(1<<20, 7), make([]byte, 5<<20)...), randomBytes(300<<10, 8)...)
	return []entry{
		{path: "empty", kind: 'f', data: nil, mode: 0o644, modTime: base},
		{path: "tiny.txt", kind: 'f', data: []byte("hello, restorer\n"), mode: 0o600, modTime: base.Add(time.Hour)},
		{path: "script.sh", kind: 'f', data: []byte("#!/bin/sh\necho hi\n"), mode: 0o755, modTime: base.Add(2 * time.Hour)},
		{path: "readonly", kind: 'f', data: randomBytes(70<<10, 1), mode: 0o444, modTime: base.Add(3 * time.Hour)},
		{path: "medium.bin", kind: 'f', data: randomBytes(3<<20+17, 2), mode: 0o640, modTime: base.Add(4 * time.Hour)},
		{path: "big.bin", kind: 'f', data: randomBytes(9<<20+4321, 3), mode: 0o644, modTime: base.Add(5 * time.Hour)},
		{path: "zeros.bin", kind: 'f', data: zeros, mode: 0o600, modTime: base.Add(6 * time.Hour)},
		{path: "a", kind: 'd', mode: 0o750, modTime: base.Add(7 * time.Hour)},
		{path: "a/b", kind: 'd', mode: 0o700, modTime: base.Add(8 * time.Hour)},
		{path: "a/b/c", kind: 'd', mode: 0o755, modTime: base.Add(9 * time.Hour)},
		{path: "a/b/c/deep.txt", kind: 'f', data: []byte("deep down\n"), mode: 0o640, modTime: base.Add(10 * time.Hour)},
		{path: "a/b/note.log", kind: 'f', data: randomBytes(1234, 4), mode: 0o600, modTime: base.Add(11 * time.Hour)},
		{path: "a/top.log", kind: 'f', data: []byte("log line\n"), mode: 0o644, modTime: base.Add(12 * time.Hour)},
		{path: "a/emptydir", kind: 'd', mode: 0o711, modTime: base.Add(13 * time.Hour)},
		{path: "a/link-rel", kind: 'l', target: "b/c/deep.txt", modTime: base.Add(14 * time.Hour)},
		{path: "link-abs", kind: 'l', target: "/etc/hostname", modTime: base.Add(15 * time.Hour)},
		{path: "link-dangling", kind: 'l', target: "does/not/exist", modTime: base.Add(16 * time.Hour)},
		{path: "a/hardlink", kind: 'h', target: "medium.bin"},
	}
}

// fileState is what a comparison looks at for one entry.
type fileState struct {
	kind    string
	mode    os.FileMode
	modTime time.Time
	size    int64
	sum     [32]byte // content hash of regular files
	target  string   // symlink target
}

// snapshotOf records the entries below dir (dir itself excluded), keyed by
// slash-separated relative path.
func snapshotOf(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st := fileState{mode: fi.Mode(), modTime: fi.ModTime()}
		switch {
		case fi.Mode().IsRegular():
			st.kind, st.size = "file", fi.Size()
			st.sum = hashFile(t, p)
		case fi.IsDir():
			st.kind = "dir"
		case fi.Mode()&os.ModeSymlink != 0:
			st.kind = "symlink"
			if st.target, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			st.kind = "other"
		}
		out[filepath.ToSlash(rel)] = st
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

func hashFile(t *testing.T, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// compareTrees reports every difference between the entries below src and
// below dst: presence, kind, mode, mtime, content and symlink target.
func compareTrees(t *testing.T, src, dst string) {
	t.Helper()
	compareStates(t, snapshotOf(t, src), snapshotOf(t, dst))
}

func compareStates(t *testing.T, want, got map[string]fileState) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("restored %s: missing", p)
			continue
		}
		if g.kind != w.kind {
			t.Errorf("kind(%s) = %s, want %s", p, g.kind, w.kind)
			continue
		}
		if g.mode != w.mode {
			t.Errorf("mode(%s) = %v, want %v", p, g.mode, w.mode)
		}
		if !g.modTime.Equal(w.modTime) {
			t.Errorf("mtime(%s) = %v, want %v", p, g.modTime, w.modTime)
		}
		if g.size != w.size || !bytes.Equal(g.sum[:], w.sum[:]) {
			t.Errorf("content(%s) = %d bytes %x, want %d bytes %x", p, g.size, g.sum[:6], w.size, w.sum[:6])
		}
		if g.target != w.target {
			t.Errorf("linktarget(%s) = %q, want %q", p, g.target, w.target)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("restored %s: not in the source", p)
		}
	}
}

// countingBackend passes everything to a backend and calls onLoad after
// each successful load of a pack file with the bytes loaded so far.
type countingBackend struct {
	backend.Backend
	mu     sync.Mutex
	loaded int64
	onLoad func(total int64)
}

func (c *countingBackend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	n := int64(0)
	err := c.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(&countReader{r: rd, n: &n})
	})
	if err == nil && h.Type == backend.PackFile {
		c.mu.Lock()
		c.loaded += n
		total := c.loaded
		c.mu.Unlock()
		if c.onLoad != nil {
			c.onLoad(total)
		}
	}
	return err
}

func (c *countingBackend) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loaded
}

type countReader struct {
	r io.Reader
	n *int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}
