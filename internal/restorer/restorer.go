package restorer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/cairn-backup/cairn/internal/walker"
	"golang.org/x/sys/unix"
)

// Repo is what the restorer needs from a repository.
type Repo interface {
	LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error)
	Locate(h blob.Handle) []blob.PackedBlob
	StreamPack(ctx context.Context, blobs []blob.PackedBlob, fn func(loc blob.PackedBlob, plain []byte, err error) error) error
}

// Overwrite says what to do with files that exist in the target.
type Overwrite uint8

// Overwrite modes, as restic's --overwrite.
const (
	// OverwriteAlways rewrites what differs: each chunk of an existing
	// file is compared and only those that differ are fetched.
	OverwriteAlways Overwrite = iota
	// OverwriteIfChanged leaves files whose size and mtime match alone
	// and treats the rest as OverwriteAlways.
	OverwriteIfChanged
	// OverwriteIfNewer replaces only files older than the snapshot's.
	OverwriteIfNewer
	// OverwriteNever leaves every existing file alone.
	OverwriteNever
)

// ParseOverwrite parses always|if-changed|if-newer|never.
func ParseOverwrite(s string) (Overwrite, error) {
	switch s {
	case "always", "":
		return OverwriteAlways, nil
	case "if-changed":
		return OverwriteIfChanged, nil
	case "if-newer":
		return OverwriteIfNewer, nil
	case "never":
		return OverwriteNever, nil
	}
	return 0, fmt.Errorf("invalid --overwrite %q (want always, if-changed, if-newer or never)", s)
}

// Options control a restore.
type Options struct {
	// Target is the directory to restore into.
	Target string
	// Select reports whether the snapshot path (slash separated, absolute
	// within the snapshot) is restored, and whether anything below it may
	// be; nil restores everything.
	Select func(snapPath string, isDir bool) (selected, childMayMatch bool)
	// Overwrite handles existing files.
	Overwrite Overwrite
	// Sparse leaves runs of zeros as holes in new files.
	Sparse bool
	// Delete removes files in the target that are not in the snapshot.
	Delete bool
	// DryRun plans and reports but changes nothing.
	DryRun bool
	// Xattr reports whether an extended attribute is restored; nil
	// restores them all.
	Xattr func(name string) bool
	// OwnershipByName sets owners by the recorded user and group names
	// where this system knows them (as root), instead of the numeric IDs.
	OwnershipByName bool
	// Workers is the number of packs read and decoded at once (0: 2).
	Workers int
	// Writers is the number of goroutines creating files ahead of the
	// readers (0: 4). File creation is mostly kernel time that several
	// goroutines overlap well.
	Writers int
	// MaxOpenFiles caps the files created ahead and kept open between
	// their chunks (0: 256).
	MaxOpenFiles int
	// Progress receives counters, per-item events (restored, updated,
	// unchanged, deleted) and problems; nil discards them.
	Progress *ui.Progress
}

// Summary counts what a restore did.
type Summary struct {
	Files, Dirs, Others int // restored entries by kind
	FilesSkipped        int // existing files left as they were
	Bytes               uint64
	BytesWritten        uint64 // file content written (the rest was already there)
	Deleted             int
	Errors              int
}

// Restorer restores one snapshot tree. Use it once.
type Restorer struct {
	repo Repo
	opts Options
	prog *ui.Progress
	// snapBase is the snapshot path of the target directory, for the
	// items of events.
	snapBase string

	mu      sync.Mutex
	summary Summary // guarded by mu

	dirs     []dirEntry          // directories, in walk order
	files    []*fileJob          // regular files to (re)write
	links    map[linkKey]string  // hardlink groups: first restored path
	keep     map[string]struct{} // target paths the snapshot has (for Delete)
	hardlink []hardlinkJob
	plan     plan
	// newOwned: files created in directories this restore created are
	// owned by this process's user and group already.
	newOwned bool
}

type dirEntry struct {
	path string
	node *tree.Node
}

type linkKey struct{ dev, inode uint64 }

type hardlinkJob struct {
	path, target string
	node         *tree.Node
}

// New returns a restorer reading from repo.
func New(repo Repo, opts Options) *Restorer {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Writers <= 0 {
		opts.Writers = 4
	}
	if opts.MaxOpenFiles <= 0 {
		opts.MaxOpenFiles = 256
	}
	return &Restorer{repo: repo, opts: opts, prog: opts.Progress, snapBase: "/", links: map[linkKey]string{}, keep: map[string]struct{}{}}
}

// Run restores the tree root (whose entries land directly in the target)
// and returns what it did. Problems with single files are reported and
// counted in Summary.Errors; Run fails only when it cannot go on at all.
func (r *Restorer) Run(ctx context.Context, root id.ID) (Summary, error) {
	fresh, err := r.makeTarget()
	if err != nil {
		return Summary{}, err
	}
	if err := r.walk(ctx, "/", r.opts.Target, root, fresh); err != nil {
		return r.summary, err
	}
	return r.finishAll(ctx)
}

// RunNode restores one node found at snapshot path snapPath (a file, or a
// directory whose contents go into the target).
func (r *Restorer) RunNode(ctx context.Context, snapPath string, n *tree.Node) (Summary, error) {
	fresh, err := r.makeTarget()
	if err != nil {
		return Summary{}, err
	}
	if n.Type == tree.TypeDir {
		r.snapBase = snapPath
		if n.Subtree == nil {
			return r.finishAll(ctx)
		}
		if err := r.walk(ctx, snapPath, r.opts.Target, *n.Subtree, fresh); err != nil {
			return r.summary, err
		}
		return r.finishAll(ctx)
	}
	r.snapBase = path.Dir(snapPath)
	tp := filepath.Join(r.opts.Target, n.Name)
	r.mark(tp)
	r.restoreNode(tp, n, fresh)
	return r.finishAll(ctx)
}

// makeTarget creates the target directory and reports whether it is new
// (then nothing in it needs a look before it is written).
func (r *Restorer) makeTarget() (fresh bool, err error) {
	if r.opts.DryRun {
		return false, nil
	}
	_, statErr := os.Lstat(r.opts.Target)
	if err := os.MkdirAll(r.opts.Target, 0o700); err != nil {
		return false, fmt.Errorf("create target: %w", err)
	}
	fresh = errors.Is(statErr, fs.ErrNotExist)
	if fresh {
		// Files created below a new target belong to this process's
		// user and group, unless the target inherited a setgid bit.
		var st unix.Stat_t
		r.newOwned = unix.Stat(r.opts.Target, &st) == nil && st.Mode&unix.S_ISGID == 0 && int(st.Gid) == egid
	}
	return fresh, nil
}

func (r *Restorer) finishAll(ctx context.Context) (Summary, error) {
	if err := r.restoreFiles(ctx); err != nil {
		return r.summary, err
	}
	for _, h := range r.hardlink {
		r.makeHardlink(h)
	}
	if r.opts.Delete {
		r.deleteExtra()
	}
	// Directory metadata last, deepest first, once nothing else changes
	// their contents (and so their mtimes).
	for i := len(r.dirs) - 1; i >= 0; i-- {
		if !r.opts.DryRun {
			if err := r.applyMetadata(r.dirs[i].path, r.dirs[i].node); err != nil {
				r.fail(r.dirs[i].path, err)
			}
		}
		r.prog.AddFiles(1)
		if r.prog.Verbose() {
			r.prog.Event(ui.Event{Action: "restored", Item: r.item(r.dirs[i].path), IsDir: true})
		}
	}
	return r.summary, ctx.Err()
}

// Verify reads back every file this restorer wrote and checks each chunk
// against its ID, reporting files that differ.
func (r *Restorer) Verify(ctx context.Context) (checked int, err error) {
	for _, job := range r.files {
		if err := ctx.Err(); err != nil {
			return checked, err
		}
		if job.failed.Load() {
			continue
		}
		if verr := r.verifyFile(job); verr != nil {
			r.fail(job.path, fmt.Errorf("verify: %w", verr))
		}
		checked++
	}
	return checked, nil
}

// item is the snapshot path of target path p.
func (r *Restorer) item(p string) string {
	rel, err := filepath.Rel(r.opts.Target, p)
	if err != nil || rel == "." {
		return r.snapBase
	}
	return path.Join(r.snapBase, filepath.ToSlash(rel))
}

// event shows one restored item when verbose output is on.
func (r *Restorer) event(action, p string, size uint64) {
	if r.prog.Verbose() {
		r.prog.Event(ui.Event{Action: action, Item: r.item(p), Size: size})
	}
}

// skipped counts a file left as it was.
func (r *Restorer) skipped(p string, size uint64) {
	r.count(func(s *Summary) { s.FilesSkipped++ })
	r.prog.AddSkipped(1, size)
	r.event("unchanged", p, size)
}

func (r *Restorer) fail(p string, err error) {
	r.prog.Problem(ui.Problem{During: "restore", Item: p, Err: err})
	r.mu.Lock()
	r.summary.Errors++
	r.mu.Unlock()
}

// walk visits the tree tid at snapshot path snap, restored at dst; fresh
// says that this restore created dst.
func (r *Restorer) walk(ctx context.Context, snap, dst string, tid id.ID, fresh bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := walker.LoadTree(ctx, r.repo, tid)
	if err != nil {
		r.fail(dst, err)
		return nil
	}
	var seen map[string]struct{} // names so far, in a new directory
	if fresh {
		seen = make(map[string]struct{}, len(t.Nodes))
	}
	for _, n := range t.Nodes {
		inNew := fresh
		if fresh {
			// A damaged tree may name an entry twice: the second one
			// takes the careful path.
			if _, dup := seen[n.Name]; dup {
				inNew = false
			}
			seen[n.Name] = struct{}{}
		}
		if n.Name == "" || n.Name == "." || n.Name == ".." || strings.ContainsRune(n.Name, '/') {
			r.fail(path.Join(dst, n.Name), fmt.Errorf("invalid name %q in tree %v", n.Name, tid.Str()))
			continue
		}
		sp := path.Join(snap, n.Name)
		tp := filepath.Join(dst, n.Name)
		selected, below := true, true
		if r.opts.Select != nil {
			selected, below = r.opts.Select(sp, n.Type == tree.TypeDir)
		}
		if n.Type == tree.TypeDir {
			if !selected && !below {
				continue
			}
			r.mark(tp)
			created := false
			if !r.opts.DryRun {
				var err error
				if created, err = mkdir(tp, inNew); err != nil {
					r.fail(tp, err)
					continue
				}
			}
			if selected {
				r.dirs = append(r.dirs, dirEntry{tp, n})
				r.count(func(s *Summary) { s.Dirs++ })
				r.prog.AddTotal(1, 0)
			}
			if n.Subtree != nil {
				if err := r.walk(ctx, sp, tp, *n.Subtree, created); err != nil {
					return err
				}
			}
			continue
		}
		if !selected {
			continue
		}
		r.mark(tp)
		r.restoreNode(tp, n, inNew)
	}
	return nil
}

// mark records a target path the snapshot has, for Delete.
func (r *Restorer) mark(p string) {
	if r.opts.Delete {
		r.keep[p] = struct{}{}
	}
}

// mkdir creates a directory, replacing a non-directory in its way, and
// reports whether it created it. In a directory this restore created
// (inNew) nothing can be in the way.
func mkdir(p string, inNew bool) (created bool, err error) {
	if !inNew {
		fi, err := os.Lstat(p)
		if err == nil && !fi.IsDir() {
			if err := os.Remove(p); err != nil {
				return false, err
			}
		}
	}
	err = os.Mkdir(p, 0o700)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	}
	return false, err
}

func (r *Restorer) count(fn func(*Summary)) {
	r.mu.Lock()
	fn(&r.summary)
	r.mu.Unlock()
}

// restoreNode handles one non-directory entry; inNew says that its
// directory was created by this restore.
func (r *Restorer) restoreNode(p string, n *tree.Node, inNew bool) {
	if n.Type == tree.TypeFile {
		r.prog.AddTotal(1, n.Size)
	} else {
		r.prog.AddTotal(1, 0)
	}
	if n.Type == tree.TypeFile && n.Links > 1 {
		k := linkKey{n.DeviceID, n.Inode}
		if first, ok := r.links[k]; ok {
			r.hardlink = append(r.hardlink, hardlinkJob{path: p, target: first, node: n})
			return
		}
		r.links[k] = p
	}
	switch n.Type {
	case tree.TypeFile:
		r.planFile(p, n, inNew)
	case tree.TypeSymlink, tree.TypeFifo, tree.TypeDev, tree.TypeCharDev:
		r.count(func(s *Summary) { s.Others++ })
		r.prog.AddFiles(1)
		r.event("restored", p, 0)
		if r.opts.DryRun {
			return
		}
		if err := createSpecial(p, n); err != nil {
			r.fail(p, err)
			return
		}
		if err := r.applyMetadata(p, n); err != nil {
			r.fail(p, err)
		}
	default:
		r.fail(p, fmt.Errorf("cannot restore a node of type %q", n.Type))
	}
}

func (r *Restorer) makeHardlink(h hardlinkJob) {
	fi, err := os.Lstat(h.path)
	if err == nil {
		if st, err2 := os.Lstat(h.target); err2 == nil && os.SameFile(fi, st) {
			r.count(func(s *Summary) { s.Files++ })
			r.skipped(h.path, h.node.Size)
			return
		}
		// Something else is at the second name: the overwrite mode
		// decides, as for any other file.
		if r.opts.Overwrite == OverwriteNever || (fi.Mode().IsRegular() && r.keepExisting(fi, h.node)) {
			r.skipped(h.path, h.node.Size)
			return
		}
	}
	r.count(func(s *Summary) { s.Files++ })
	r.prog.AddFiles(1)
	r.prog.AddBytes(h.node.Size)
	r.event("restored", h.path, h.node.Size)
	if r.opts.DryRun {
		return
	}
	if err == nil {
		_ = os.Remove(h.path)
	}
	if err := os.Link(h.target, h.path); err != nil {
		r.fail(h.path, fmt.Errorf("hardlink to %s: %w", h.target, err))
	}
}

// deleteExtra removes what the target holds beyond the snapshot, below the
// directories that were restored.
func (r *Restorer) deleteExtra() {
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if _, ok := r.keep[p]; !ok {
				if isTemp(e.Name()) {
					continue
				}
				if !r.opts.DryRun {
					if err := os.RemoveAll(p); err != nil {
						r.fail(p, err)
						continue
					}
				}
				r.count(func(s *Summary) { s.Deleted++ })
				r.prog.AddDeleted(1)
				if r.prog.Verbose() {
					// restic names deleted files by their path on disk.
					abs, _ := filepath.Abs(p)
					r.prog.Event(ui.Event{Action: "deleted", Item: abs})
				}
				continue
			}
			if e.IsDir() {
				walk(p)
			}
		}
	}
	walk(r.opts.Target)
}
