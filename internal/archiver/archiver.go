package archiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/chunker"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"golang.org/x/sync/errgroup"
)

// Repo is what the archiver needs from a repository.
type Repo interface {
	// SaveBlob stores a blob unless it is known; see repository.SaveBlob.
	SaveBlob(ctx context.Context, t blob.Type, buf []byte, bid id.ID) (id.ID, bool, int, error)
	// LoadBlob reads a blob (used for the parent snapshot's trees).
	LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error)
	// HasBlob reports whether the repository has a blob.
	HasBlob(h blob.Handle) bool
}

// Options control a backup.
type Options struct {
	// Polynomial is the repository's chunker polynomial.
	Polynomial chunker.Pol
	// Excluded reports whether a path is left out; nil keeps everything.
	// It is called from the walker goroutines and from the scanner, at once.
	Excluded func(path string, fi os.FileInfo) bool
	// OneFileSystem keeps the walk on the file system of each target.
	OneFileSystem bool
	// Force reads every file, even those the parent has unchanged.
	Force bool
	// IgnoreInode and IgnoreCtime relax the unchanged-file test.
	IgnoreInode, IgnoreCtime bool
	// Workers is the number of file workers; 0 means one per CPU, at
	// least two.
	Workers int
	// Walkers is the number of directories read at once; 0 means two
	// per CPU, 1 a serial walk.
	Walkers int
	// Progress receives counters, per-item events and problems; nil
	// discards them.
	Progress *ui.Progress
	// NoScan skips the scan that finds the totals for the progress.
	NoScan bool
	// WithAtime records access times (otherwise atime is mtime, as in
	// restic).
	WithAtime bool
}

// Archiver backs up paths into a repository. Use it once.
type Archiver struct {
	repo Repo
	opts Options
	prog *ui.Progress
	root string // file system path of the snapshot's root (see snapPath)

	jobs    chan fileJob
	walkers chan struct{}           // slots of the directory readers besides the caller
	walking sync.WaitGroup          // directory readers that may still queue jobs
	cancel  context.CancelCauseFunc // ends the run on a repository failure

	mu      sync.Mutex
	summary Summary // guarded by mu
}

// New returns an archiver writing to repo.
func New(repo Repo, opts Options) *Archiver {
	if opts.Workers <= 0 {
		opts.Workers = max(2, runtime.GOMAXPROCS(0))
	}
	if opts.Walkers <= 0 {
		opts.Walkers = 2 * runtime.GOMAXPROCS(0)
	}
	// One walker is the goroutine that calls Run; the others are slots.
	return &Archiver{repo: repo, opts: opts, prog: opts.Progress, walkers: make(chan struct{}, opts.Walkers-1)}
}

// ErrFileChanged is reported (not returned) for files that changed while
// they were read; what was read is in the snapshot.
var ErrFileChanged = errors.New("file changed while it was read")

// Run backs up targets (absolute or relative paths) and returns the ID of
// the root tree. parent is the root tree of the parent snapshot, or nil.
// Paths that cannot be read are reported and left out; Run fails only on
// repository errors or cancellation.
func (a *Archiver) Run(ctx context.Context, targets []string, parent *id.ID) (id.ID, Summary, error) {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.cancel = cancel

	root, err := buildTrie(targets)
	if err != nil {
		return id.ID{}, Summary{}, err
	}
	a.root = root.path
	var scanner sync.WaitGroup
	if a.prog != nil && !a.opts.NoScan {
		scanner.Go(func() { a.scan(ctx, targets) })
	}

	a.jobs = make(chan fileJob, 4*a.opts.Workers)
	var workers errgroup.Group
	for range a.opts.Workers {
		workers.Go(func() error { return a.fileWorker(ctx) })
	}

	var parentTree *oldDir
	if parent != nil {
		parentTree = a.loadTree(ctx, "/", *parent)
	}
	rootID, err := a.saveRoot(ctx, root, parentTree)
	if err != nil {
		cancel(err)
	}
	// On failure, readers may still be queueing files (they stop, as the
	// context is cancelled); jobs closes once none can.
	a.walking.Wait()
	close(a.jobs)
	if werr := workers.Wait(); err == nil {
		err = werr
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	// The scan ends too (it is cancelled with the backup on failure), so
	// that its totals and its scan_finished event are complete.
	scanner.Wait()
	a.mu.Lock()
	s := a.summary
	a.mu.Unlock()
	s.BackupStart, s.BackupEnd = start, time.Now()
	return rootID, s, err
}

// saveRoot saves the root tree: the targets' own trees if "/" is a target,
// otherwise the intermediate directories leading to each target.
func (a *Archiver) saveRoot(ctx context.Context, root *trieNode, parent *oldDir) (id.ID, error) {
	var children []*future
	if root.target {
		fi, err := os.Lstat(root.path)
		if err != nil {
			return id.ID{}, fmt.Errorf("backup target %s: %w", root.path, err)
		}
		children, _ = a.readDir(ctx, root.path, parent, deviceOf(fi))
		// Targets given beside "." (absolute ones) join its entries,
		// unless the working directory has an entry of that name.
		for _, name := range root.names() {
			if _, err := os.Lstat(filepath.Join(root.path, name)); errors.Is(err, os.ErrNotExist) {
				children = append(children, a.saveTrieEntry(ctx, root.children[name], parent.find(name)))
			}
		}
	} else {
		for _, name := range root.names() {
			children = append(children, a.saveTrieEntry(ctx, root.children[name], parent.find(name)))
		}
	}
	t, err := collect(ctx, children)
	if err != nil {
		return id.ID{}, err
	}
	tid, _, _, err := a.saveTree(ctx, t, parent)
	return tid, err
}

// saveTrieEntry saves a path on the way to (or at) a target.
func (a *Archiver) saveTrieEntry(ctx context.Context, n *trieNode, old *tree.Node) *future {
	path := n.path
	fi, err := os.Lstat(path)
	if err != nil {
		return a.skip(path, err)
	}
	if n.target {
		return a.saveEntry(ctx, path, fi, old, deviceOf(fi))
	}
	node, err := a.node(path, fi)
	if err != nil {
		return a.skip(path, err)
	}
	if node.Type != "dir" {
		return a.skip(path, fmt.Errorf("not a directory"))
	}
	var children []*future
	var oldTree *oldDir
	if old != nil && old.Type == "dir" && old.Subtree != nil {
		oldTree = a.loadTree(ctx, path, *old.Subtree)
	}
	for _, name := range n.names() {
		children = append(children, a.saveTrieEntry(ctx, n.children[name], oldTree.find(name)))
	}
	return a.finishDir(ctx, path, node, old, oldTree, children)
}

// saveEntry saves one file system object found by the walk.
func (a *Archiver) saveEntry(ctx context.Context, path string, fi os.FileInfo, old *tree.Node, dev uint64) *future {
	node, err := a.node(path, fi)
	if err != nil {
		return a.skip(path, err)
	}
	switch node.Type {
	case "dir":
		if a.opts.OneFileSystem && deviceOf(fi) != dev {
			// A mount point: kept as an empty directory, as restic does,
			// so that a restore recreates it.
			return a.finishDir(ctx, path, node, old, nil, nil)
		}
		return a.saveDir(ctx, path, node, old, dev)
	case "file":
		return a.saveFile(ctx, path, node, old)
	case tree.TypeSocket:
		return done(nil) // restic does not store sockets
	}
	return done(node)
}

// saveDir reads a directory found by the walk and saves its entries. When
// a walker slot is free, the directory is read by a goroutine of its own,
// so that directories are read (and their parent trees loaded) in
// parallel; otherwise the caller reads it, as a serial walk would. The
// resulting tree does not depend on which: each directory's entries are
// sorted by name and its tree is built from them in that order.
func (a *Archiver) saveDir(ctx context.Context, path string, node, old *tree.Node, dev uint64) *future {
	select {
	case a.walkers <- struct{}{}:
	default:
		children, oldTree, ok := a.readDirOf(ctx, path, old, dev)
		if !ok {
			return done(nil) // reported by readDir; left out, as restic does
		}
		return a.finishDir(ctx, path, node, old, oldTree, children)
	}
	f := newFuture()
	start := time.Now()
	a.walking.Add(1)
	go func() {
		children, oldTree, ok := a.readDirOf(ctx, path, old, dev)
		<-a.walkers // the slot is for reading, not for waiting on children
		a.walking.Done()
		if !ok {
			f.complete(nil)
			return
		}
		a.completeDir(ctx, f, start, path, node, old, oldTree, children)
	}()
	return f
}

// readDirOf loads the parent's tree of a directory (old is its node in
// the parent snapshot, or nil) and starts saving its entries.
func (a *Archiver) readDirOf(ctx context.Context, path string, old *tree.Node, dev uint64) ([]*future, *oldDir, bool) {
	var oldTree *oldDir
	if old != nil && old.Type == "dir" && old.Subtree != nil {
		oldTree = a.loadTree(ctx, path, *old.Subtree)
	}
	children, ok := a.readDir(ctx, path, oldTree, dev)
	return children, oldTree, ok
}

func (a *Archiver) node(path string, fi os.FileInfo) (*tree.Node, error) {
	return tree.NodeOptions{WithAtime: a.opts.WithAtime}.NodeFromPath(path, fi)
}

// readDir starts saving every entry of the directory at path. If the
// directory cannot be read, it reports that and returns false.
func (a *Archiver) readDir(ctx context.Context, path string, old *oldDir, dev uint64) ([]*future, bool) {
	f, err := openNoAtime(path)
	if err != nil {
		a.skip(path, err)
		return nil, false
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		a.skip(path, err)
		return nil, false
	}
	sort.Strings(names)
	children := make([]*future, 0, len(names))
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		p := filepath.Join(path, name)
		fi, err := os.Lstat(p)
		if err != nil {
			children = append(children, a.skip(p, err))
			continue
		}
		if a.opts.Excluded != nil && a.opts.Excluded(p, fi) {
			continue
		}
		children = append(children, a.saveEntry(ctx, p, fi, old.find(name), dev))
	}
	return children, true
}

// finishDir completes a directory node once its children are done: their
// tree is saved and becomes the node's subtree. oldTree is the parent's
// tree of the directory, or nil.
func (a *Archiver) finishDir(ctx context.Context, path string, node, old *tree.Node, oldTree *oldDir, children []*future) *future {
	f := newFuture()
	start := time.Now()
	go a.completeDir(ctx, f, start, path, node, old, oldTree, children)
	return f
}

// completeDir waits for a directory's children, saves its tree and
// completes f with the directory's node.
func (a *Archiver) completeDir(ctx context.Context, f *future, start time.Time, path string, node, old *tree.Node, oldTree *oldDir, children []*future) {
	t, err := collect(ctx, children)
	if err != nil {
		f.fail(err)
		return
	}
	tid, meta, stored, err := a.saveTree(ctx, t, oldTree)
	if err != nil {
		f.fail(err)
		return
	}
	node.Subtree = &tid
	state := FileChanged
	a.mu.Lock()
	switch {
	case old == nil || old.Subtree == nil:
		a.summary.DirsNew++
		state = FileNew
	case *old.Subtree == tid:
		a.summary.DirsUnmodified++
		state = FileUnmodified
	default:
		a.summary.DirsChanged++
	}
	a.mu.Unlock()
	if a.prog.Verbose() {
		item := a.snapPath(path)
		if item != "/" {
			item += "/"
		}
		e := ui.Event{Action: state.action(), Item: item, IsDir: true}
		if state != FileUnmodified {
			e.Duration = time.Since(start)
			e.MetadataAdded, e.MetadataAddedPacked = meta, stored
		}
		a.prog.Event(e)
	}
	f.complete(node)
}

// saveTree stores a tree and returns its ID and, if it was new, its size
// and the bytes it took in packs. prev is the parent's tree of the same
// directory, or nil: when t encodes to the very bytes of prev, and prev is
// in the index, t is prev, and its ID is known without hashing or asking
// the repository.
func (a *Archiver) saveTree(ctx context.Context, t *tree.Tree, prev *oldDir) (_ id.ID, size, stored uint64, _ error) {
	buf, err := t.Encode(a.encodeBuffer(prev))
	if err != nil {
		return id.ID{}, 0, 0, err
	}
	if prev != nil && bytes.Equal(buf, prev.raw) && a.repo.HasBlob(blob.Handle{ID: prev.id, Type: blob.Tree}) {
		return prev.id, 0, 0, nil
	}
	tid, known, n, err := a.repo.SaveBlob(ctx, blob.Tree, buf, id.ID{})
	if known {
		return tid, 0, 0, err
	}
	return tid, uint64(len(buf)), uint64(n), err
}

// oldDir is a directory's tree in the parent snapshot: decoded, and the
// blob it was decoded from.
type oldDir struct {
	t   *tree.Tree
	raw []byte
	id  id.ID
}

// find returns the node called name, or nil (also for a nil oldDir).
func (o *oldDir) find(name string) *tree.Node {
	if o == nil {
		return nil
	}
	return findNode(o.t, name)
}

// encodeBuffer returns an empty buffer for encoding the tree that may
// replace prev, which has room for prev's size (the size of a tree
// seldom changes much).
func (a *Archiver) encodeBuffer(prev *oldDir) []byte {
	if prev == nil {
		return nil
	}
	return make([]byte, 0, len(prev.raw)+len(prev.raw)/8)
}

// loadTree loads a tree of the parent snapshot; a tree that cannot be
// loaded is reported and treated as absent (everything below is read).
func (a *Archiver) loadTree(ctx context.Context, path string, tid id.ID) *oldDir {
	raw, err := a.repo.LoadBlob(ctx, blob.Handle{ID: tid, Type: blob.Tree})
	if err != nil {
		err = fmt.Errorf("load tree %v: %w", tid.Str(), err)
	}
	var t *tree.Tree
	if err == nil {
		if t, err = tree.Decode(raw); err != nil {
			err = fmt.Errorf("tree %v: %w", tid.Str(), err)
		}
	}
	if err == nil {
		// As walker.LoadTree does: nodes in name order, whoever wrote them
		// (an unsorted tree then never encodes to its own bytes again).
		byName := func(a, b *tree.Node) int { return strings.Compare(a.Name, b.Name) }
		if !slices.IsSortedFunc(t.Nodes, byName) {
			slices.SortStableFunc(t.Nodes, byName)
		}
		return &oldDir{t: t, raw: raw, id: tid}
	}
	if ctx.Err() == nil {
		a.prog.Problem(ui.Problem{During: "archival", Item: path, Err: fmt.Errorf("parent snapshot: %w", err)})
	}
	return nil
}

// skip reports a path that is left out and returns a future without node.
func (a *Archiver) skip(path string, err error) *future {
	a.prog.Problem(ui.Problem{During: "archival", Item: path, Err: err})
	a.mu.Lock()
	a.summary.Errors++
	a.mu.Unlock()
	return done(nil)
}

// collect waits for children and builds their tree; skipped children are
// left out.
func collect(ctx context.Context, children []*future) (*tree.Tree, error) {
	t := &tree.Tree{Nodes: make([]*tree.Node, 0, len(children))}
	for _, c := range children {
		n, err := c.wait(ctx)
		if err != nil {
			return nil, err
		}
		if n == nil {
			continue
		}
		if err := t.Insert(n); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// findNode returns the node called name in t (sorted by name), or nil.
func findNode(t *tree.Tree, name string) *tree.Node {
	if t == nil {
		return nil
	}
	i := sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= name })
	if i < len(t.Nodes) && t.Nodes[i].Name == name {
		return t.Nodes[i]
	}
	return nil
}

func deviceOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev) //nolint:unconvert // Dev is uint64 on linux/amd64 but not everywhere
	}
	return 0
}

// trieNode is one component of the tree of target paths. The tree mirrors
// the targets as they were given, as restic's does: an absolute target
// /srv/www starts the snapshot's root tree at "srv", a relative target
// www/html (run in /srv) starts it at "www", and "." puts the working
// directory's entries at the root.
type trieNode struct {
	path     string // absolute file system path of this component
	target   bool
	children map[string]*trieNode
}

func buildTrie(targets []string) (*trieNode, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	root := &trieNode{path: "/", children: map[string]*trieNode{}}
	relRoot := root
	for _, t := range targets {
		clean := filepath.Clean(t)
		n := root
		if !filepath.IsAbs(clean) {
			if clean == ".." || strings.HasPrefix(clean, "../") {
				// Above the working directory: store it by its absolute path.
				clean = filepath.Join(cwd, clean)
			} else {
				n = relRoot
				if n == root {
					root.path = cwd
				}
			}
		}
		base := "/"
		if !filepath.IsAbs(clean) {
			base = cwd
		}
		for _, c := range strings.Split(filepath.ToSlash(clean), "/") {
			if c == "" || c == "." {
				continue
			}
			next, ok := n.children[c]
			if !ok {
				next = &trieNode{path: filepath.Join(base, c), children: map[string]*trieNode{}}
				n.children[c] = next
			}
			base = next.path
			n = next
		}
		n.target = true
	}
	return root, nil
}

func (n *trieNode) names() []string {
	out := make([]string, 0, len(n.children))
	for k := range n.children {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
