package browse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// ErrNotFound is returned for a snapshot or path that the view does not
// hold.
var ErrNotFound = errors.New("not found")

// Source is what a view reads from a repository. Every method must be
// safe for concurrent use.
type Source interface {
	snapshot.Repository
	walker.Loader
	// BlobSize returns the plaintext size of a blob and whether the
	// loaded index knows it.
	BlobSize(h blob.Handle) (uint32, bool)
}

// Options tune a [View]. The zero value is restic's layout with every
// snapshot.
type Options struct {
	Filter        snapshot.Filter
	PathTemplates []string // default DefaultPathTemplates
	TimeTemplate  string   // default DefaultTimeTemplate
	// Refresh is how old the last snapshot listing may be before the view
	// lists again; 0 means one second.
	Refresh time.Duration
	// Reload, if set, runs before snapshots that appeared since the view
	// was opened are shown: it reloads the index, so that their blobs are
	// found.
	Reload func(ctx context.Context) error
	// Warn, if set, receives the snapshots that cannot be loaded, once
	// each.
	Warn func(error)
	// TreeCache is how many decoded trees are kept; 0 means 4096.
	TreeCache int
	// BlobCache is how many bytes of data blobs are kept; 0 means 64 MiB.
	BlobCache int64
}

// View is a read-only view of a repository's snapshots. It is safe for
// concurrent use.
type View struct {
	src Source
	o   Options

	mu     sync.Mutex
	listed time.Time                    // time of the last listing
	loaded map[id.ID]*snapshot.Snapshot // every snapshot read, unfiltered
	bad    map[id.ID]bool               // snapshots that failed to load
	snaps  []*snapshot.Snapshot         // filtered, oldest first
	layout *Dir                         // of snaps
	byID   map[id.ID]*snapshot.Snapshot // of snaps
	trees  *lru[id.ID, *tree.Tree]      // decoded trees, cost 1 each
	blobs  *lru[id.ID, []byte]          // data blobs, cost their length
}

// New returns a view of src. Nothing is read until it is asked for.
func New(src Source, o Options) (*View, error) {
	if len(o.PathTemplates) == 0 {
		o.PathTemplates = DefaultPathTemplates
	}
	if err := checkTemplates(o.PathTemplates); err != nil {
		return nil, err
	}
	if o.TimeTemplate == "" {
		o.TimeTemplate = DefaultTimeTemplate
	}
	if o.Refresh == 0 {
		o.Refresh = time.Second
	}
	if o.TreeCache <= 0 {
		o.TreeCache = 4096
	}
	if o.BlobCache <= 0 {
		o.BlobCache = 64 << 20
	}
	return &View{
		src:    src,
		o:      o,
		loaded: map[id.ID]*snapshot.Snapshot{},
		bad:    map[id.ID]bool{},
		trees:  newLRU[id.ID, *tree.Tree](int64(o.TreeCache)),
		blobs:  newLRU[id.ID, []byte](o.BlobCache),
	}, nil
}

// refresh lists the snapshot files again if the last listing is older
// than o.Refresh. v.mu must be held.
func (v *View) refresh(ctx context.Context) error {
	if v.layout != nil && time.Since(v.listed) < v.o.Refresh {
		return nil
	}
	var ids []id.ID
	if err := v.src.ListSnapshots(ctx, func(fid id.ID) error {
		ids = append(ids, fid)
		return nil
	}); err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	present := id.NewSet(ids...)
	changed := v.layout == nil
	for fid := range v.loaded {
		if !present.Has(fid) {
			delete(v.loaded, fid) // forgotten
			changed = true
		}
	}
	var fresh []*snapshot.Snapshot
	for _, fid := range ids {
		if v.loaded[fid] != nil || v.bad[fid] {
			continue
		}
		sn, err := snapshot.Load(ctx, v.src, fid)
		switch {
		case errors.Is(err, backend.ErrNotExist):
			continue // forgotten since the listing
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			v.bad[fid] = true
			if v.o.Warn != nil {
				v.o.Warn(err)
			}
			continue
		}
		fresh = append(fresh, sn)
	}
	if len(fresh) > 0 && v.layout != nil && v.o.Reload != nil {
		if err := v.o.Reload(ctx); err != nil {
			return err
		}
	}
	for _, sn := range fresh {
		v.loaded[sn.ID] = sn
		changed = true
	}
	v.listed = time.Now()
	if !changed {
		return nil
	}
	v.snaps = v.snaps[:0:0]
	v.byID = map[id.ID]*snapshot.Snapshot{}
	for _, sn := range v.loaded {
		if v.o.Filter.Match(sn) {
			v.snaps = append(v.snaps, sn)
			v.byID[sn.ID] = sn
		}
	}
	slices.SortFunc(v.snaps, func(a, b *snapshot.Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	v.layout = buildLayout(v.snaps, v.o.PathTemplates, v.o.TimeTemplate)
	return nil
}

// Snapshots returns the snapshots the filter selects, oldest first. The
// slice must not be changed.
func (v *View) Snapshots(ctx context.Context) ([]*snapshot.Snapshot, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.refresh(ctx); err != nil {
		return nil, err
	}
	return v.snaps, nil
}

// Layout returns the root of the directory layout of the snapshots.
func (v *View) Layout(ctx context.Context) (*Dir, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.refresh(ctx); err != nil {
		return nil, err
	}
	return v.layout, nil
}

// Snapshot returns the selected snapshot whose ID is ref or starts with
// it (at least four hex digits), or the newest for "latest".
func (v *View) Snapshot(ctx context.Context, ref string) (*snapshot.Snapshot, error) {
	snaps, err := v.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	if ref == LatestName {
		if len(snaps) == 0 {
			return nil, fmt.Errorf("latest snapshot: %w", ErrNotFound)
		}
		return snaps[len(snaps)-1], nil
	}
	ref = strings.ToLower(ref)
	var found *snapshot.Snapshot
	if len(ref) >= 4 && len(ref) <= 64 {
		for _, sn := range snaps {
			if strings.HasPrefix(sn.ID.String(), ref) {
				if found != nil {
					return nil, fmt.Errorf("snapshot %q is ambiguous: %w", ref, ErrNotFound)
				}
				found = sn
			}
		}
	}
	if found == nil {
		return nil, fmt.Errorf("snapshot %q: %w", ref, ErrNotFound)
	}
	return found, nil
}

// Tree returns the decoded tree blob tid, from the cache if it is there.
func (v *View) Tree(ctx context.Context, tid id.ID) (*tree.Tree, error) {
	if t, ok := v.trees.get(tid); ok {
		return t, nil
	}
	t, err := walker.LoadTree(ctx, v.src, tid)
	if err != nil {
		return nil, err
	}
	v.trees.add(tid, t, 1)
	return t, nil
}

// Root returns a directory node standing for the root tree of sn, named
// by its short ID and timed by it.
func Root(sn *snapshot.Snapshot) *tree.Node {
	return &tree.Node{Name: sn.ID.Str(), Type: tree.TypeDir, Mode: os.ModeDir | 0o555, ModTime: sn.Time,
		AccessTime: sn.Time, ChangeTime: sn.Time, UID: sn.UID, GID: sn.GID, Subtree: sn.Tree}
}

// Find returns the node at the slash-separated path p of the snapshot sn;
// "/" is its root (see [Root]).
func (v *View) Find(ctx context.Context, sn *snapshot.Snapshot, p string) (*tree.Node, error) {
	if sn.Tree == nil {
		return nil, fmt.Errorf("snapshot %s has no tree: %w", sn.ID.Str(), ErrNotFound)
	}
	n := Root(sn)
	for _, name := range splitPath(p) {
		if n.Type != tree.TypeDir || n.Subtree == nil {
			return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		t, err := v.Tree(ctx, *n.Subtree)
		if err != nil {
			return nil, err
		}
		if n = t.Find(name); n == nil {
			return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
	}
	return n, nil
}

// File reads the content of one file node. It is safe for concurrent use.
type File struct {
	v       *View
	content []id.ID
	ends    []int64 // ends[i] is the offset just past blob i
}

// Open returns a reader of the file node n. It fails if the index does
// not know one of the file's blobs.
func (v *View) Open(n *tree.Node) (*File, error) {
	if n.Type != tree.TypeFile {
		return nil, fmt.Errorf("%s is a %s, not a file", n.Name, n.Type)
	}
	f := &File{v: v, content: n.Content, ends: make([]int64, len(n.Content))}
	var end int64
	for i, bid := range n.Content {
		size, ok := v.src.BlobSize(blob.Handle{ID: bid, Type: blob.Data})
		if !ok {
			return nil, fmt.Errorf("%s: data blob %s is not in the index", n.Name, bid.Str())
		}
		end += int64(size)
		f.ends[i] = end
	}
	return f, nil
}

// Size returns the number of bytes the file's blobs hold.
func (f *File) Size() int64 {
	if len(f.ends) == 0 {
		return 0
	}
	return f.ends[len(f.ends)-1]
}

// ReadAt reads len(p) bytes from offset off, loading the blobs it needs
// through the view's blob cache. It returns io.EOF with fewer bytes at the
// end of the file.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	i := sort.Search(len(f.ends), func(i int) bool { return f.ends[i] > off })
	for n < len(p) && i < len(f.ends) {
		buf, err := f.v.blob(ctx, f.content[i])
		if err != nil {
			return n, err
		}
		start := int64(0)
		if i > 0 {
			start = f.ends[i-1]
		}
		if int64(len(buf)) != f.ends[i]-start {
			return n, fmt.Errorf("data blob %s: %d bytes, the index says %d", f.content[i].Str(), len(buf), f.ends[i]-start)
		}
		c := copy(p[n:], buf[off+int64(n)-start:])
		n += c
		i++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// blob returns the plaintext of data blob bid through the cache.
func (v *View) blob(ctx context.Context, bid id.ID) ([]byte, error) {
	if buf, ok := v.blobs.get(bid); ok {
		return buf, nil
	}
	buf, err := v.src.LoadBlob(ctx, blob.Handle{ID: bid, Type: blob.Data})
	if err != nil {
		return nil, err
	}
	v.blobs.add(bid, buf, int64(len(buf)))
	return buf, nil
}
