package archiver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/restic/chunker"
)

// testPol is an irreducible polynomial of degree 53 (restic's test polynomial).
const testPol = chunker.Pol(0x3DA3358B4DC173)

// newRepo returns a v2 repository on a mem backend, ready to write. Data
// is not compressed, which keeps the race detector fast; trees are.
func newRepo(t testing.TB) *repository.Repository {
	t.Helper()
	kp, err := repository.FixedKeyParams(1024, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	o := repository.InitOptions{Version: 2, Poly: testPol, Params: kp}
	r, err := repository.Init(t.Context(), mem.New(), "secret", o, repository.Options{Compression: repository.CompressionOff})
	if err != nil {
		t.Fatalf("Init() = %v", err)
	}
	if _, err := r.LoadIndex(t.Context()); err != nil {
		t.Fatalf("LoadIndex() = %v", err)
	}
	startWriting(t, r)
	return r
}

func startWriting(t testing.TB, r *repository.Repository) {
	t.Helper()
	if err := r.StartWriting(t.Context(), repository.WriteOptions{PackSize: repository.MinPackSize}); err != nil {
		t.Fatalf("StartWriting() = %v", err)
	}
}

// flush finishes the write session, so that everything saved can be
// loaded, and starts the next one.
func flush(t testing.TB, r *repository.Repository) {
	t.Helper()
	if _, err := r.Finish(t.Context()); err != nil {
		t.Fatalf("Finish() = %v", err)
	}
	startWriting(t, r)
}

// countingRepo is an archiver.Repo that counts what the archiver saves and
// can hide data blobs or fail.
type countingRepo struct {
	r *repository.Repository

	hideData  bool  // HasBlob reports no data blob
	failAfter int   // data SaveBlob calls after this many fail with failErr (0: never)
	failErr   error // returned by failing calls

	mu        sync.Mutex
	dataCalls int // SaveBlob calls for data blobs; guarded by mu
	newData   int // of which stored new data; guarded by mu
	newTrees  int // SaveBlob calls that stored a new tree; guarded by mu
}

var _ archiver.Repo = (*countingRepo)(nil)

func (c *countingRepo) SaveBlob(ctx context.Context, t blob.Type, buf []byte, bid id.ID) (id.ID, bool, int, error) {
	if t == blob.Data {
		c.mu.Lock()
		c.dataCalls++
		fail := c.failAfter > 0 && c.dataCalls > c.failAfter
		c.mu.Unlock()
		if fail {
			return id.ID{}, false, 0, c.failErr
		}
	}
	bid, known, size, err := c.r.SaveBlob(ctx, t, buf, bid)
	if err == nil && !known {
		c.mu.Lock()
		if t == blob.Data {
			c.newData++
		} else {
			c.newTrees++
		}
		c.mu.Unlock()
	}
	return bid, known, size, err
}

func (c *countingRepo) LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error) {
	return c.r.LoadBlob(ctx, h)
}

func (c *countingRepo) HasBlob(h blob.Handle) bool {
	if c.hideData && h.Type == blob.Data {
		return false
	}
	return c.r.HasBlob(h)
}

func (c *countingRepo) counts() (dataCalls, newData, newTrees int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dataCalls, c.newData, c.newTrees
}

// reporter records what the archiver reports.
type reporter struct {
	mu       sync.Mutex
	errs     map[string]error              // guarded by mu
	complete map[string]archiver.FileState // guarded by mu
}

func newReporter() *reporter {
	return &reporter{errs: map[string]error{}, complete: map[string]archiver.FileState{}}
}

// progress returns a verbose Progress that reports to r.
func (r *reporter) progress() *ui.Progress { return ui.NewProgress(r, 0, true) }

func (r *reporter) Status(ui.Status) {}

func (r *reporter) Problem(p ui.Problem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs[p.Item] = p.Err
}

func (r *reporter) Event(e ui.Event) {
	if e.IsDir || e.Action == "scan_finished" {
		return
	}
	state := map[string]archiver.FileState{"new": archiver.FileNew, "modified": archiver.FileChanged, "unchanged": archiver.FileUnmodified}[e.Action]
	r.mu.Lock()
	defer r.mu.Unlock()
	r.complete[e.Item] = state
}

func (r *reporter) errPaths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for p := range r.errs {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func run(t testing.TB, r archiver.Repo, o archiver.Options, targets []string, parent *id.ID) (id.ID, archiver.Summary) {
	t.Helper()
	if o.Polynomial == 0 {
		o.Polynomial = testPol
	}
	root, sum, err := archiver.New(r, o).Run(t.Context(), targets, parent)
	if err != nil {
		t.Fatalf("Run(%q) = %v, want nil", targets, err)
	}
	return root, sum
}

func loadTree(t testing.TB, r *repository.Repository, tid id.ID) *tree.Tree {
	t.Helper()
	buf, err := r.LoadBlob(t.Context(), blob.Handle{ID: tid, Type: blob.Tree})
	if err != nil {
		t.Fatalf("LoadBlob(tree %v) = %v", tid.Str(), err)
	}
	tr, err := tree.Decode(buf)
	if err != nil {
		t.Fatalf("tree.Decode(%v) = %v", tid.Str(), err)
	}
	if !slices.IsSortedFunc(tr.Nodes, func(a, b *tree.Node) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("tree %v is not sorted by name", tid.Str())
	}
	return tr
}

// walk returns every node below tid by its slash-separated path.
func walk(t testing.TB, r *repository.Repository, tid id.ID) map[string]*tree.Node {
	t.Helper()
	out := map[string]*tree.Node{}
	var rec func(prefix string, tid id.ID)
	rec = func(prefix string, tid id.ID) {
		for _, n := range loadTree(t, r, tid).Nodes {
			p := prefix + n.Name
			out[p] = n
			if n.Type == tree.TypeDir {
				if n.Subtree == nil {
					t.Errorf("dir %s has no subtree", p)
					continue
				}
				rec(p+"/", *n.Subtree)
			}
		}
	}
	rec("", tid)
	return out
}

// descend follows the single-entry directories named by path from tid
// and returns the subtree of the last one.
func descend(t testing.TB, r *repository.Repository, tid id.ID, path string) id.ID {
	t.Helper()
	for _, c := range strings.Split(strings.Trim(filepath.ToSlash(path), "/"), "/") {
		tr := loadTree(t, r, tid)
		n := tr.Find(c)
		if n == nil || n.Type != tree.TypeDir || n.Subtree == nil {
			t.Fatalf("tree %v has no directory %q on the way to %s; it has %v", tid.Str(), c, path, names(tr))
		}
		tid = *n.Subtree
	}
	return tid
}

func names(tr *tree.Tree) []string {
	var out []string
	for _, n := range tr.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func content(t testing.TB, r *repository.Repository, n *tree.Node) []byte {
	t.Helper()
	var buf []byte
	for _, c := range n.Content {
		b, err := r.LoadBlob(t.Context(), blob.Handle{ID: c, Type: blob.Data})
		if err != nil {
			t.Fatalf("LoadBlob(data %v) = %v", c.Str(), err)
		}
		buf = append(buf, b...)
	}
	return buf
}

// testFS builds file trees on disk.
type testFS struct {
	t     testing.TB
	rng   *rand.ChaCha8
	files map[string][]byte // contents written, by path relative to the root
	root  string
}

func newTestFS(t testing.TB, root string, seed byte) *testFS {
	return &testFS{t: t, rng: rand.NewChaCha8([32]byte{seed}), files: map[string][]byte{}, root: root}
}

func (f *testFS) random(n int) []byte {
	b := make([]byte, n)
	_, _ = f.rng.Read(b)
	return b
}

func (f *testFS) file(rel string, data []byte) {
	f.t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.files[rel] = data
}

func (f *testFS) dir(rel string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Join(f.root, rel), 0o755); err != nil {
		f.t.Fatal(err)
	}
}

func (f *testFS) symlink(target, rel string) {
	f.t.Helper()
	if err := os.Symlink(target, filepath.Join(f.root, rel)); err != nil {
		f.t.Fatal(err)
	}
}

// checkFiles checks that nodes (from walk of the tree for f.root) hold
// exactly the regular files written, with their bytes and metadata.
func (f *testFS) checkFiles(r *repository.Repository, nodes map[string]*tree.Node) {
	f.t.Helper()
	for rel, data := range f.files {
		n := nodes[filepath.ToSlash(rel)]
		if n == nil {
			f.t.Errorf("file %s is not in the tree", rel)
			continue
		}
		fi, err := os.Lstat(filepath.Join(f.root, rel))
		if err != nil {
			f.t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if n.Type != tree.TypeFile || n.Mode != fi.Mode() || n.Size != uint64(len(data)) || !n.ModTime.Equal(fi.ModTime()) || n.Inode != st.Ino || n.Content == nil {
			f.t.Errorf("node %s = type %s, mode %v, size %d, mtime %v, inode %d, content nil %v; want file, %v, %d, %v, %d, not nil",
				rel, n.Type, n.Mode, n.Size, n.ModTime, n.Inode, n.Content == nil, fi.Mode(), len(data), fi.ModTime(), st.Ino)
		}
		if got := content(f.t, r, n); !bytes.Equal(got, data) {
			f.t.Errorf("content of %s: %d bytes that differ from the %d bytes on disk", rel, len(got), len(data))
		}
	}
}

func TestRunAbsoluteTarget(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	fs := newTestFS(t, src, 1)
	fs.file("big.bin", fs.random(9<<20+12345))
	mid := fs.random(700_000)
	fs.file("mid.bin", mid)
	fs.file("copy.bin", mid)
	fs.file("below-min.bin", fs.random(chunker.MinSize-1))
	fs.file("at-min.bin", fs.random(chunker.MinSize))
	fs.file("small.txt", []byte("hello, world\n"))
	fs.file("empty", nil)
	fs.file("sub/x.bin", fs.random(100_000))
	fs.file("sub/deeper/file.txt", []byte("deep"))
	fs.dir("emptydir")
	fs.symlink("small.txt", "link")
	fs.symlink("/nonexistent/target", "dangling")

	r := newRepo(t)
	cr := &countingRepo{r: r}
	rep := newReporter()
	root, sum := run(t, cr, archiver.Options{Progress: rep.progress()}, []string{src}, nil)
	flush(t, r)

	// The root tree leads to the target through its parent directories,
	// one entry each, with their metadata.
	tid := root
	comps := strings.Split(strings.TrimPrefix(src, "/"), "/")
	for i, c := range comps {
		tr := loadTree(t, r, tid)
		if len(tr.Nodes) != 1 || tr.Nodes[0].Name != c || tr.Nodes[0].Type != tree.TypeDir {
			t.Fatalf("tree at depth %d = %v, want the single directory %q", i, names(tr), c)
		}
		fi, err := os.Lstat("/" + filepath.Join(comps[:i+1]...))
		if err != nil {
			t.Fatal(err)
		}
		if n := tr.Nodes[0]; n.Mode != fi.Mode() || n.Inode != fi.Sys().(*syscall.Stat_t).Ino {
			t.Errorf("node %s = mode %v inode %d, want %v %d", c, n.Mode, n.Inode, fi.Mode(), fi.Sys().(*syscall.Stat_t).Ino)
		}
		tid = *tr.Nodes[0].Subtree
	}

	nodes := walk(t, r, tid)
	var got []string
	for p := range nodes {
		got = append(got, p)
	}
	slices.Sort(got)
	want := []string{"at-min.bin", "below-min.bin", "big.bin", "copy.bin", "dangling", "empty", "emptydir", "link", "mid.bin", "small.txt", "sub", "sub/deeper", "sub/deeper/file.txt", "sub/x.bin"}
	if !slices.Equal(got, want) {
		t.Errorf("tree of %s = %q, want %q", src, got, want)
	}
	fs.checkFiles(r, nodes)

	if n := nodes["big.bin"]; len(n.Content) < 3 {
		t.Errorf("big.bin (9 MiB) has %d chunks, want several", len(n.Content))
	} else {
		for i, c := range n.Content {
			size, _ := r.Index().Size(blob.Handle{ID: c, Type: blob.Data})
			if size > chunker.MaxSize || (i < len(n.Content)-1 && size < chunker.MinSize) {
				t.Errorf("big.bin chunk %d has %d bytes, want %d to %d", i, size, chunker.MinSize, chunker.MaxSize)
			}
		}
	}
	if n := nodes["below-min.bin"]; len(n.Content) != 1 {
		t.Errorf("a file below the minimum chunk size has %d chunks, want 1", len(n.Content))
	}
	if !slices.Equal(nodes["copy.bin"].Content, nodes["mid.bin"].Content) {
		t.Errorf("identical files have different content lists")
	}
	if n := nodes["empty"]; n.Size != 0 || len(n.Content) != 0 {
		t.Errorf("empty file node = size %d, %d chunks; want 0, 0", n.Size, len(n.Content))
	}
	if n := nodes["link"]; n.Type != tree.TypeSymlink || n.LinkTarget != "small.txt" || n.Content != nil {
		t.Errorf("link node = %s -> %q, content %v; want symlink -> small.txt, no content", n.Type, n.LinkTarget, n.Content)
	}
	if n := nodes["dangling"]; n.Type != tree.TypeSymlink || n.LinkTarget != "/nonexistent/target" {
		t.Errorf("dangling node = %s -> %q, want a symlink", n.Type, n.LinkTarget)
	}
	if n := nodes["emptydir"]; n.Type != tree.TypeDir || len(loadTree(t, r, *n.Subtree).Nodes) != 0 {
		t.Errorf("emptydir = %s with a non-empty subtree", n.Type)
	}

	var total uint64
	for _, d := range fs.files {
		total += uint64(len(d))
	}
	wantSum := archiver.Summary{
		FilesNew: len(fs.files), DirsNew: len(comps) + 3,
		TotalFilesProcessed: len(fs.files), TotalBytesProcessed: total,
	}
	sum.BackupStart, sum.BackupEnd = time.Time{}, time.Time{}
	if sum != wantSum {
		t.Errorf("Summary = %+v, want %+v", sum, wantSum)
	}
	if errs := rep.errPaths(); len(errs) != 0 {
		t.Errorf("errors reported for %q, want none", errs)
	}
	for rel := range fs.files {
		if st, ok := rep.complete[filepath.Join(src, rel)]; !ok || st != archiver.FileNew {
			t.Errorf("CompleteFile(%s) = %v, %v; want FileNew", rel, st, ok)
		}
	}
	// copy.bin repeats mid.bin, so it stores no new blob.
	if _, newData, _ := cr.counts(); newData != r.Index().Len()-countTrees(t, r, root) {
		t.Errorf("%d new data blobs reported, the index holds %d", newData, r.Index().Len()-countTrees(t, r, root))
	}
}

// countTrees counts the distinct trees reachable from tid, itself included.
func countTrees(t testing.TB, r *repository.Repository, tid id.ID) int {
	seen := id.NewSet()
	var rec func(id.ID)
	rec = func(tid id.ID) {
		if seen.Has(tid) {
			return
		}
		seen.Insert(tid)
		for _, n := range loadTree(t, r, tid).Nodes {
			if n.Subtree != nil {
				rec(*n.Subtree)
			}
		}
	}
	rec(tid)
	return len(seen)
}

// TestRunRelativeTarget changes the working directory, so it must not run
// in parallel with other tests.
func TestRunRelativeTarget(t *testing.T) {
	base := t.TempDir()
	fs := newTestFS(t, base, 2)
	fs.file("src/sub/f.txt", []byte("f"))
	fs.file("src/sub/g/h.txt", []byte("h"))
	fs.file("src/other.txt", []byte("other"))
	t.Chdir(base)
	r := newRepo(t)

	cases := []struct {
		target string
		path   string   // directories from the root tree to the listing
		want   []string // names there
	}{
		{"src/sub", "src/sub", []string{"f.txt", "g"}},
		{"./src/sub/", "src/sub", []string{"f.txt", "g"}},
		{"src/sub/../sub/g", "src/sub/g", []string{"h.txt"}},
		{"src/other.txt", "src", []string{"other.txt"}},
		{".", "", []string{"src"}},
		{"src", "", []string{"src"}},
	}
	for _, tc := range cases {
		root, sum := run(t, r, archiver.Options{}, []string{tc.target}, nil)
		flush(t, r)
		tid := root
		if tc.path != "" {
			tid = descend(t, r, root, tc.path)
		}
		if got := names(loadTree(t, r, tid)); !slices.Equal(got, tc.want) {
			t.Errorf("Run(%q): tree at %q = %q, want %q", tc.target, tc.path, got, tc.want)
		}
		if sum.Errors != 0 {
			t.Errorf("Run(%q): %d errors", tc.target, sum.Errors)
		}
	}

	// A target above the working directory is stored by its absolute path.
	t.Chdir(filepath.Join(base, "src"))
	root, _ := run(t, r, archiver.Options{}, []string{"../src/sub/g"}, nil)
	flush(t, r)
	if got := names(loadTree(t, r, descend(t, r, root, filepath.Join(base, "src/sub/g")))); !slices.Equal(got, []string{"h.txt"}) {
		t.Errorf("Run(../src/sub/g) = %q, want [h.txt]", got)
	}

	// Two relative targets share their common parents.
	root, _ = run(t, r, archiver.Options{}, []string{"sub/g", "other.txt"}, nil)
	flush(t, r)
	if got := names(loadTree(t, r, root)); !slices.Equal(got, []string{"other.txt", "sub"}) {
		t.Errorf("Run(sub/g, other.txt) root = %q, want [other.txt sub]", got)
	}
}

// parentFixture is a backed-up directory for the parent tests: it changes
// into a new directory, writes src/, and backs it up once.
type parentFixture struct {
	t      *testing.T
	r      *repository.Repository
	fs     *testFS
	root   id.ID
	nFiles int
	nDirs  int
	chunks int // data blobs of all files
}

func newParentFixture(t *testing.T) *parentFixture {
	base := t.TempDir()
	t.Chdir(base)
	fs := newTestFS(t, "src", 3)
	fs.file("a.txt", []byte("alpha"))
	fs.file("b.bin", fs.random(1_600_000))
	fs.file("d/c.txt", []byte("gamma"))
	fs.file("d/e/f.bin", fs.random(40_000))
	fs.file("d/empty", nil)
	f := &parentFixture{t: t, r: newRepo(t), fs: fs, nFiles: 5, nDirs: 3}
	var sum archiver.Summary
	f.root, sum = run(t, f.r, archiver.Options{}, []string{"src"}, nil)
	flush(t, f.r)
	if sum.FilesNew != f.nFiles || sum.DirsNew != f.nDirs {
		t.Fatalf("first backup summary = %+v, want %d new files and %d new dirs", sum, f.nFiles, f.nDirs)
	}
	for _, n := range walk(t, f.r, f.root) {
		f.chunks += len(n.Content)
	}
	return f
}

// again backs src up with the first backup as parent.
func (f *parentFixture) again(o archiver.Options, cr *countingRepo) (id.ID, archiver.Summary) {
	f.t.Helper()
	if cr.r == nil {
		cr.r = f.r
	}
	root, sum := run(f.t, cr, o, []string{"src"}, &f.root)
	flush(f.t, f.r)
	f.fs.checkFiles(f.r, walk(f.t, f.r, descend(f.t, f.r, root, "src")))
	return root, sum
}

func (f *parentFixture) stat(rel string) (os.FileInfo, *syscall.Stat_t) {
	f.t.Helper()
	fi, err := os.Lstat(filepath.Join("src", rel))
	if err != nil {
		f.t.Fatal(err)
	}
	return fi, fi.Sys().(*syscall.Stat_t)
}

// checkFiles compares the file counts of a summary.
func checkFiles(t *testing.T, sum archiver.Summary, wantNew, wantChanged, wantUnmodified int) {
	t.Helper()
	if sum.FilesNew != wantNew || sum.FilesChanged != wantChanged || sum.FilesUnmodified != wantUnmodified || sum.Errors != 0 {
		t.Errorf("Summary files new/changed/unmodified/errors = %d/%d/%d/%d, want %d/%d/%d/0",
			sum.FilesNew, sum.FilesChanged, sum.FilesUnmodified, sum.Errors, wantNew, wantChanged, wantUnmodified)
	}
}

// TestRunParent changes the working directory, so it must not run in
// parallel with other tests.
func TestRunParent(t *testing.T) {
	t.Run("unchanged", func(t *testing.T) {
		f := newParentFixture(t)
		cr := &countingRepo{}
		root, sum := f.again(archiver.Options{}, cr)
		if root != f.root {
			t.Errorf("root of an unchanged backup = %v, want the parent's %v", root.Str(), f.root.Str())
		}
		checkFiles(t, sum, 0, 0, f.nFiles)
		if sum.DirsUnmodified != f.nDirs || sum.DirsNew != 0 || sum.DirsChanged != 0 {
			t.Errorf("Summary dirs new/changed/unmodified = %d/%d/%d, want 0/0/%d", sum.DirsNew, sum.DirsChanged, sum.DirsUnmodified, f.nDirs)
		}
		if calls, newData, newTrees := cr.counts(); calls != 0 || newData != 0 || newTrees != 0 {
			t.Errorf("unchanged backup: %d data SaveBlob calls, %d new data and %d new tree blobs; want none", calls, newData, newTrees)
		}
	})
	t.Run("mtime", func(t *testing.T) {
		f := newParentFixture(t)
		fi, _ := f.stat("b.bin")
		if err := os.Chtimes("src/b.bin", fi.ModTime(), fi.ModTime().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		cr := &countingRepo{}
		root, sum := f.again(archiver.Options{}, cr)
		checkFiles(t, sum, 0, 1, f.nFiles-1)
		calls, newData, _ := cr.counts()
		if calls == 0 || newData != 0 {
			t.Errorf("touched file: %d data SaveBlob calls, %d new; want it read again, nothing new", calls, newData)
		}
		if root == f.root {
			t.Errorf("root unchanged after an mtime change")
		}
	})
	t.Run("force", func(t *testing.T) {
		f := newParentFixture(t)
		cr := &countingRepo{}
		root, sum := f.again(archiver.Options{Force: true}, cr)
		checkFiles(t, sum, 0, f.nFiles, 0)
		if calls, newData, _ := cr.counts(); calls != f.chunks || newData != 0 {
			t.Errorf("Force: %d data SaveBlob calls, %d new; want %d (every chunk), 0", calls, newData, f.chunks)
		}
		if root != f.root {
			t.Errorf("Force with nothing changed gave root %v, want %v", root.Str(), f.root.Str())
		}
	})
	t.Run("ctime", func(t *testing.T) {
		f := newParentFixture(t)
		fi, st := f.stat("a.txt")
		for i := 0; ; i++ {
			// chmod to the same mode changes only the ctime.
			if err := os.Chmod("src/a.txt", fi.Mode()); err != nil {
				t.Fatal(err)
			}
			if _, st2 := f.stat("a.txt"); st2.Ctim != st.Ctim {
				break
			}
			if i == 100 {
				t.Skip("ctime does not change on chmod here")
			}
			time.Sleep(10 * time.Millisecond)
		}
		_, sum := f.again(archiver.Options{}, &countingRepo{})
		checkFiles(t, sum, 0, 1, f.nFiles-1)
		cr := &countingRepo{}
		_, sum = f.again(archiver.Options{IgnoreCtime: true}, cr)
		checkFiles(t, sum, 0, 0, f.nFiles)
		if calls, _, _ := cr.counts(); calls != 0 {
			t.Errorf("IgnoreCtime: %d data SaveBlob calls, want 0", calls)
		}
	})
	t.Run("inode", func(t *testing.T) {
		f := newParentFixture(t)
		// Replace d/c.txt by a copy with the same size and mtime: a new
		// inode (and, as a new file, a new ctime).
		fi, st := f.stat("d/c.txt")
		if err := os.WriteFile("src/d/c.txt.new", f.fs.files["d/c.txt"], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes("src/d/c.txt.new", fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename("src/d/c.txt.new", "src/d/c.txt"); err != nil {
			t.Fatal(err)
		}
		if _, st2 := f.stat("d/c.txt"); st2.Ino == st.Ino {
			t.Fatal("the copy has the same inode")
		}
		for _, tc := range []struct {
			o       archiver.Options
			changed int
		}{
			{archiver.Options{}, 1},
			{archiver.Options{IgnoreCtime: true}, 1},
			{archiver.Options{IgnoreInode: true}, 1},
			{archiver.Options{IgnoreCtime: true, IgnoreInode: true}, 0},
		} {
			cr := &countingRepo{}
			_, sum := f.again(tc.o, cr)
			if sum.FilesChanged != tc.changed || sum.FilesUnmodified != f.nFiles-tc.changed {
				t.Errorf("%+v: %d changed, %d unmodified; want %d, %d", tc.o, sum.FilesChanged, sum.FilesUnmodified, tc.changed, f.nFiles-tc.changed)
			}
			if calls, _, _ := cr.counts(); (calls != 0) != (tc.changed != 0) {
				t.Errorf("%+v: %d data SaveBlob calls", tc.o, calls)
			}
		}
	})
	t.Run("content missing", func(t *testing.T) {
		f := newParentFixture(t)
		// Files whose content the repository lacks are read again.
		cr := &countingRepo{hideData: true}
		_, sum := f.again(archiver.Options{}, cr)
		checkFiles(t, sum, 0, f.nFiles-1, 1) // the empty file has no content
		if calls, _, _ := cr.counts(); calls != f.chunks {
			t.Errorf("%d data SaveBlob calls, want %d", calls, f.chunks)
		}
	})
	t.Run("parent unreadable", func(t *testing.T) {
		f := newParentFixture(t)
		rep := newReporter()
		bad := id.Hash([]byte("no such tree"))
		root, sum, err := archiver.New(&countingRepo{r: f.r}, archiver.Options{Polynomial: testPol, Progress: rep.progress()}).Run(t.Context(), []string{"src"}, &bad)
		if err != nil {
			t.Fatalf("Run(missing parent) = %v", err)
		}
		if root != f.root {
			t.Errorf("root with a missing parent = %v, want %v", root.Str(), f.root.Str())
		}
		checkFiles(t, sum, f.nFiles, 0, 0)
		if len(rep.errPaths()) != 1 {
			t.Errorf("errors reported for %q, want one for the parent tree", rep.errPaths())
		}
	})
}

func TestRunExcluded(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	fs := newTestFS(t, src, 4)
	fs.file("a.txt", []byte("a"))
	fs.file("b.log", []byte("b"))
	fs.file("skipdir/x.txt", []byte("x"))
	fs.file("keep/y.log", []byte("y"))
	fs.file("keep/z.txt", []byte("z"))
	var mu sync.Mutex
	calls := map[string]int{}
	excluded := func(p string, fi os.FileInfo) bool {
		mu.Lock()
		calls[p]++
		mu.Unlock()
		if fi.Name() != filepath.Base(p) {
			t.Errorf("Excluded(%s, fi named %s)", p, fi.Name())
		}
		return strings.HasSuffix(p, ".log") || (fi.IsDir() && fi.Name() == "skipdir")
	}
	r := newRepo(t)
	root, sum := run(t, r, archiver.Options{Excluded: excluded}, []string{src}, nil)
	flush(t, r)
	var got []string
	for p := range walk(t, r, descend(t, r, root, src)) {
		got = append(got, p)
	}
	slices.Sort(got)
	if want := []string{"a.txt", "keep", "keep/z.txt"}; !slices.Equal(got, want) {
		t.Errorf("tree with exclusions = %q, want %q", got, want)
	}
	if sum.FilesNew != 2 || sum.Errors != 0 {
		t.Errorf("Summary = %+v, want 2 new files and no errors", sum)
	}
	var called []string
	for p, n := range calls {
		called = append(called, strings.TrimPrefix(p, src+"/"))
		if n != 1 {
			t.Errorf("Excluded(%s) called %d times, want once", p, n)
		}
	}
	slices.Sort(called)
	if want := []string{"a.txt", "b.log", "keep", "keep/y.log", "keep/z.txt", "skipdir"}; !slices.Equal(called, want) {
		t.Errorf("Excluded called for %q, want %q (nothing below an excluded directory)", called, want)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	fs := newTestFS(t, src, 5)
	fs.file("ok.txt", []byte("fine"))
	fs.file("vanish.txt", []byte("going"))
	fs.file("swap.txt", fs.random(1000))
	fs.file("gone/inner.txt", []byte("inner"))
	fs.file("later.txt", []byte("still here"))
	wantErrs := []string{"gone", "swap.txt", "vanish.txt"}
	if os.Geteuid() != 0 {
		fs.file("secret.txt", []byte("no read permission"))
		if err := os.Chmod(filepath.Join(src, "secret.txt"), 0); err != nil {
			t.Fatal(err)
		}
		wantErrs = append(wantErrs, "secret.txt")
	} else {
		t.Log("running as root: permission errors are not tested")
	}
	slices.Sort(wantErrs)

	// Excluded runs right after the walker's lstat: change the files
	// there, between the lstat and the read.
	excluded := func(p string, _ os.FileInfo) bool {
		var err error
		switch filepath.Base(p) {
		case "vanish.txt":
			err = os.Remove(p)
		case "gone":
			err = os.RemoveAll(p)
		case "swap.txt":
			// A symlink in its place: the worker's O_NOFOLLOW open fails.
			if err = os.Remove(p); err == nil {
				err = os.Symlink("ok.txt", p)
			}
		}
		if err != nil {
			t.Errorf("changing %s: %v", p, err)
		}
		return false
	}
	r := newRepo(t)
	rep := newReporter()
	missing := filepath.Join(base, "missing")
	// NoScan: the scanner would call excluded (which changes the files) first.
	root, sum := run(t, r, archiver.Options{Excluded: excluded, NoScan: true, Progress: rep.progress()}, []string{src, missing}, nil)
	flush(t, r)

	var gotErrs []string
	for _, p := range rep.errPaths() {
		if p == missing {
			continue
		}
		gotErrs = append(gotErrs, strings.TrimPrefix(p, src+"/"))
	}
	if !slices.Equal(gotErrs, wantErrs) {
		t.Errorf("errors reported below src for %q, want %q", gotErrs, wantErrs)
	}
	if _, ok := rep.errs[missing]; !ok {
		t.Errorf("no error reported for the missing target %s", missing)
	}
	if sum.Errors != len(wantErrs)+1 {
		t.Errorf("Summary.Errors = %d, want %d", sum.Errors, len(wantErrs)+1)
	}
	baseTree := loadTree(t, r, descend(t, r, root, base))
	if got := names(baseTree); !slices.Equal(got, []string{"src"}) {
		t.Errorf("tree of %s = %q, want [src] (the missing target left out)", base, got)
	}
	var got []string
	for p := range walk(t, r, descend(t, r, root, src)) {
		got = append(got, p)
	}
	slices.Sort(got)
	if want := []string{"later.txt", "ok.txt"}; !slices.Equal(got, want) {
		t.Errorf("tree after errors = %q, want %q", got, want)
	}
	if sum.FilesNew != 2 {
		t.Errorf("Summary.FilesNew = %d, want 2", sum.FilesNew)
	}
}

func TestRunSpecialFiles(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	fs := newTestFS(t, src, 6)
	fs.file("plain.txt", []byte("plain"))
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(src, "sock"), syscall.S_IFSOCK|0o600, 0); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t)
	rep := newReporter()
	done := make(chan struct{})
	var root id.ID
	var sum archiver.Summary
	go func() {
		defer close(done)
		root, sum = run(t, r, archiver.Options{Progress: rep.progress()}, []string{src}, nil)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return: it blocked on the fifo?")
	}
	flush(t, r)
	nodes := walk(t, r, descend(t, r, root, src))
	if n := nodes["fifo"]; n == nil || n.Type != tree.TypeFifo || n.Content != nil {
		t.Errorf("fifo node = %+v, want a fifo without content", n)
	}
	if n := nodes["sock"]; n != nil {
		t.Errorf("socket stored as %+v; restic leaves sockets out", n)
	}
	if len(nodes) != 2 || sum.Errors != 0 || len(rep.errPaths()) != 0 {
		t.Errorf("tree has %d nodes, %d errors (%q); want fifo and plain.txt, no errors", len(nodes), sum.Errors, rep.errPaths())
	}
}

// TestRunOneFileSystem backs up "/" with everything but /proc and
// /proc/self excluded: /proc is another file system.
func TestRunOneFileSystem(t *testing.T) {
	t.Parallel()
	rootFi, err1 := os.Lstat("/")
	procFi, err2 := os.Lstat("/proc")
	if _, err3 := os.Lstat("/proc/self"); err1 != nil || err2 != nil || err3 != nil ||
		rootFi.Sys().(*syscall.Stat_t).Dev == procFi.Sys().(*syscall.Stat_t).Dev {
		t.Skip("/proc is not a separate file system here")
	}
	excluded := func(p string, _ os.FileInfo) bool { return p != "/proc" && p != "/proc/self" }
	for _, one := range []bool{false, true} {
		r := newRepo(t)
		root, sum := run(t, r, archiver.Options{Excluded: excluded, OneFileSystem: one}, []string{"/"}, nil)
		flush(t, r)
		got := names(loadTree(t, r, descend(t, r, root, "proc")))
		want := []string{"self"}
		if one {
			want = nil
		}
		if !slices.Equal(got, want) || sum.Errors != 0 {
			t.Errorf("OneFileSystem %v: /proc holds %q, %d errors; want %q, none", one, got, sum.Errors, want)
		}
	}
}

func TestRunStdin(t *testing.T) {
	t.Parallel()
	data := newTestFS(t, "", 7).random(2<<20 + 333)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"stdin.bin", data}, {"empty", nil}} {
		r := newRepo(t)
		before := time.Now()
		root, sum, err := archiver.New(r, archiver.Options{Polynomial: testPol}).RunStdin(t.Context(), tc.name, bytes.NewReader(tc.data))
		if err != nil {
			t.Fatalf("RunStdin() = %v", err)
		}
		flush(t, r)
		tr := loadTree(t, r, root)
		if len(tc.data) == 0 {
			// restic 0.19.1: "no data read" is an error, the snapshot empty.
			if len(tr.Nodes) != 0 || sum.Errors != 1 || sum.FilesNew != 0 {
				t.Errorf("RunStdin of nothing: tree %q, summary %+v; want an empty tree and one error", names(tr), sum)
			}
			continue
		}
		if len(tr.Nodes) != 1 {
			t.Fatalf("RunStdin tree = %q, want one node", names(tr))
		}
		n := tr.Nodes[0]
		if n.Name != tc.name || n.Type != tree.TypeFile || n.Size != uint64(len(tc.data)) || n.Mode != 0o644 || n.Content == nil || n.ModTime.Before(before.Add(-time.Second)) {
			t.Errorf("RunStdin node = %q %s mode %v size %d mtime %v content nil %v; want %q file 0644 %d now",
				n.Name, n.Type, n.Mode, n.Size, n.ModTime, n.Content == nil, tc.name, len(tc.data))
		}
		if got := content(t, r, n); !bytes.Equal(got, tc.data) {
			t.Errorf("RunStdin content = %d bytes that differ from the %d bytes read", len(got), len(tc.data))
		}
		if len(tc.data) > 0 && len(n.Content) < 2 {
			t.Errorf("RunStdin of %d bytes made %d chunks, want several", len(tc.data), len(n.Content))
		}
		if sum.FilesNew != 1 || sum.TotalBytesProcessed != uint64(len(tc.data)) {
			t.Errorf("RunStdin summary = %+v", sum)
		}
	}
}

func TestRunWorkers(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	fs := newTestFS(t, src, 8)
	for i := range 60 {
		fs.file(fmt.Sprintf("d%d/f%02d.txt", i%4, i), fs.random(i*97))
	}
	for i := range 3 {
		fs.file(fmt.Sprintf("d%d/big%d.bin", i, i), fs.random(600_000+i*300_000))
	}
	fs.file("d1/e/g/h.txt", []byte("deep"))
	r := newRepo(t)
	var first id.ID
	for _, workers := range []int{1, 8, 3} {
		root, sum := run(t, r, archiver.Options{Workers: workers}, []string{src}, nil)
		flush(t, r)
		sub := descend(t, r, root, src)
		if workers == 1 {
			first = sub
			fs.checkFiles(r, walk(t, r, sub))
		} else if sub != first {
			t.Errorf("Workers %d: tree of %s = %v, want %v as with 1 worker", workers, src, sub.Str(), first.Str())
		}
		if sum.FilesNew != len(fs.files) {
			t.Errorf("Workers %d: %d new files, want %d", workers, sum.FilesNew, len(fs.files))
		}
	}
}

var errBoom = errors.New("boom")

func TestRunRepoError(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	fs := newTestFS(t, src, 9)
	for i := range 40 {
		fs.file(fmt.Sprintf("d%d/f%d.bin", i%5, i), fs.random(10_000+i))
	}
	for _, workers := range []int{1, 4} {
		cr := &countingRepo{r: newRepo(t), failAfter: 5, failErr: errBoom}
		done := make(chan error, 1)
		go func() {
			_, _, err := archiver.New(cr, archiver.Options{Polynomial: testPol, Workers: workers}).Run(t.Context(), []string{src}, nil)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errBoom) {
				t.Errorf("Workers %d: Run() with a failing repository = %v, want %v", workers, err, errBoom)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Workers %d: Run() with a failing repository did not return", workers)
		}
	}
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	fs := newTestFS(t, src, 10)
	for i := range 30 {
		fs.file(fmt.Sprintf("d%d/f%02d.bin", i%3, i), fs.random(20_000))
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	excluded := func(p string, _ os.FileInfo) bool {
		if strings.HasSuffix(p, "f10.bin") {
			cancel()
		}
		return false
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := archiver.New(newRepo(t), archiver.Options{Polynomial: testPol, Excluded: excluded}).Run(ctx, []string{src}, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run() cancelled = %v, want %v", err, context.Canceled)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run() did not return after cancellation")
	}
}

// TestRunUnreadableDir makes a directory unreadable between the walker's
// lstat and its readdir (it becomes a symlink, so the O_NOFOLLOW open
// fails; this works as root too).
func TestRunUnreadableDir(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	fs := newTestFS(t, src, 11)
	fs.file("ok.txt", []byte("ok"))
	fs.file("swapdir/inner.txt", []byte("inner"))
	excluded := func(p string, _ os.FileInfo) bool {
		if filepath.Base(p) == "swapdir" {
			if err := os.Rename(p, p+".real"); err != nil {
				t.Error(err)
			}
			if err := os.Symlink("swapdir.real", p); err != nil {
				t.Error(err)
			}
		}
		return false
	}
	r := newRepo(t)
	rep := newReporter()
	// NoScan: the scanner would call excluded (which swaps the directory) first.
	root, sum := run(t, r, archiver.Options{Excluded: excluded, NoScan: true, Progress: rep.progress()}, []string{src}, nil)
	flush(t, r)
	if got := rep.errPaths(); !slices.Equal(got, []string{filepath.Join(src, "swapdir")}) {
		t.Errorf("errors reported for %q, want swapdir", got)
	}
	if got := names(loadTree(t, r, descend(t, r, root, src))); !slices.Equal(got, []string{"ok.txt"}) || sum.Errors != 1 {
		t.Errorf("tree = %q with %d errors, want [ok.txt] and 1 error (the unreadable directory left out)", got, sum.Errors)
	}
}
