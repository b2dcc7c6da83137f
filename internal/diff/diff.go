package diff

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// Modifiers of a [Change]; a type change and a content change may come
// together ("TM").
const (
	Added    = "+"
	Removed  = "-"
	Modified = "M" // the file's content changed
	Metadata = "U" // only the metadata changed
	Type     = "T" // the type changed
)

// Change is one changed path. Path is absolute; directories end in a
// slash. Modifier is made of the constants above.
type Change struct {
	Modifier string
	Path     string
}

// Count counts one side's entries and the blobs only it refers to.
type Count struct {
	Files     int    `json:"files"`
	Dirs      int    `json:"dirs"`
	Others    int    `json:"others"`
	DataBlobs int    `json:"data_blobs"`
	TreeBlobs int    `json:"tree_blobs"`
	Bytes     uint64 `json:"bytes"`
}

func (c *Count) addNode(n *tree.Node) {
	switch n.Type {
	case tree.TypeFile:
		c.Files++
	case tree.TypeDir:
		c.Dirs++
	default:
		c.Others++
	}
}

// Stats sums up a comparison.
type Stats struct {
	ChangedFiles   int
	Added, Removed Count
}

// Options tune a comparison.
type Options struct {
	// Metadata reports paths whose metadata alone changed (modifier U).
	Metadata bool
}

// Sizer tells a blob's stored size, as the repository's index knows it.
type Sizer interface {
	Size(h blob.Handle) (uint32, bool)
}

// blobSet is a set of blobs.
type blobSet map[blob.Handle]struct{}

func (s blobSet) add(h blob.Handle) { s[h] = struct{}{} }

// addNode adds the blobs a node refers to directly: a file's data blobs or
// a directory's tree.
func (s blobSet) addNode(n *tree.Node) {
	switch n.Type {
	case tree.TypeFile:
		for _, c := range n.Content {
			s.add(blob.Handle{ID: c, Type: blob.Data})
		}
	case tree.TypeDir:
		if n.Subtree != nil {
			s.add(blob.Handle{ID: *n.Subtree, Type: blob.Tree})
		}
	}
}

// differ holds the state of one comparison.
type differ struct {
	l      walker.Loader
	o      Options
	change func(Change) error
	stats  Stats

	// Blobs referred to by the first and second tree, and by directories
	// that are the same in both (whose trees are in common too).
	before, after, common blobSet
	commonTrees           id.Set // trees whose blobs are in common
}

// Trees compares the tree tree1 with tree2, calling fn with every change
// as it is found, in name order; an error from fn stops the comparison and
// is returned. The returned Stats count blobs by their sizes in sizes.
func Trees(ctx context.Context, l walker.Loader, sizes Sizer, tree1, tree2 id.ID, o Options, fn func(Change) error) (Stats, error) {
	d := &differ{l: l, o: o, change: fn, before: blobSet{}, after: blobSet{}, common: blobSet{}, commonTrees: id.NewSet()}
	d.before.add(blob.Handle{ID: tree1, Type: blob.Tree})
	d.after.add(blob.Handle{ID: tree2, Type: blob.Tree})
	if err := d.diffTree(ctx, "/", tree1, tree2); err != nil {
		return Stats{}, err
	}
	d.countBlobs(sizes, d.before, d.after, &d.stats.Removed)
	d.countBlobs(sizes, d.after, d.before, &d.stats.Added)
	return d.stats, nil
}

// countBlobs counts the blobs of own that neither other nor the common
// set has.
func (d *differ) countBlobs(sizes Sizer, own, other blobSet, c *Count) {
	for h := range own {
		if _, ok := other[h]; ok {
			continue
		}
		if _, ok := d.common[h]; ok {
			continue
		}
		if h.Type == blob.Data {
			c.DataBlobs++
		} else {
			c.TreeBlobs++
		}
		if size, ok := sizes.Size(h); ok {
			c.Bytes += uint64(size)
		}
	}
}

// nodePath is a node's path as a Change shows it: directories end in a
// slash.
func nodePath(dir string, n *tree.Node) string {
	p := path.Join(dir, n.Name)
	if n.Type == tree.TypeDir {
		p += "/"
	}
	return p
}

// diffTree compares the trees id1 and id2 found at dir, in name order.
func (d *differ) diffTree(ctx context.Context, dir string, id1, id2 id.ID) error {
	t1, err := walker.LoadTree(ctx, d.l, id1)
	if err != nil {
		return err
	}
	t2, err := walker.LoadTree(ctx, d.l, id2)
	if err != nil {
		return err
	}
	for n1, n2 := range mergeByName(t1.Nodes, t2.Nodes) {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, n := range []*tree.Node{n1, n2} {
			if n != nil && n.Type == tree.TypeDir && n.Subtree == nil {
				return fmt.Errorf("%s: directory without subtree: %w", path.Join(dir, n.Name), tree.ErrInvalidData)
			}
		}
		if n1 != nil {
			d.before.addNode(n1)
		}
		if n2 != nil {
			d.after.addNode(n2)
		}
		switch {
		case n2 == nil:
			err = d.listTree(ctx, Removed, dir, n1, &d.stats.Removed, d.before)
		case n1 == nil:
			err = d.listTree(ctx, Added, dir, n2, &d.stats.Added, d.after)
		default:
			err = d.diffNodes(ctx, dir, n1, n2)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// diffNodes compares two nodes of the same name.
func (d *differ) diffNodes(ctx context.Context, dir string, n1, n2 *tree.Node) error {
	mod := ""
	if n1.Type != n2.Type {
		mod += Type
	}
	switch {
	case n1.Type == tree.TypeFile && n2.Type == tree.TypeFile && !slices.Equal(n1.Content, n2.Content):
		mod += Modified
		d.stats.ChangedFiles++
	case d.o.Metadata && !SameNode(n1, n2):
		mod += Metadata
	}
	if mod != "" {
		if err := d.change(Change{mod, nodePath(dir, n2)}); err != nil {
			return err
		}
	}
	p := path.Join(dir, n2.Name)
	bothDirs := n1.Type == tree.TypeDir && n2.Type == tree.TypeDir
	switch {
	case bothDirs && *n1.Subtree == *n2.Subtree:
		return d.collectCommon(ctx, *n1.Subtree)
	case bothDirs:
		return d.diffTree(ctx, p, *n1.Subtree, *n2.Subtree)
	}
	// A directory that became something else, or the other way round: its
	// contents were removed or added (restic 0.14 does not list them).
	if n1.Type == tree.TypeDir {
		if err := d.listContents(ctx, Removed, p, *n1.Subtree, &d.stats.Removed, d.before); err != nil {
			return err
		}
	}
	if n2.Type == tree.TypeDir {
		return d.listContents(ctx, Added, p, *n2.Subtree, &d.stats.Added, d.after)
	}
	return nil
}

// listTree reports n, found at dir, and everything below it as added or
// removed (mod), counting them in c and their blobs in blobs.
func (d *differ) listTree(ctx context.Context, mod, dir string, n *tree.Node, c *Count, blobs blobSet) error {
	if err := d.change(Change{mod, nodePath(dir, n)}); err != nil {
		return err
	}
	c.addNode(n)
	if n.Type != tree.TypeDir {
		return nil
	}
	return d.listContents(ctx, mod, path.Join(dir, n.Name), *n.Subtree, c, blobs)
}

// listContents is listTree for the contents of the tree tid found at dir.
func (d *differ) listContents(ctx context.Context, mod, dir string, tid id.ID, c *Count, blobs blobSet) error {
	return walker.Walk(ctx, d.l, tid, walker.Options{Prefix: dir}, func(p string, n *tree.Node, _ id.ID) error {
		if n.Type == tree.TypeDir {
			p += "/"
		}
		if err := d.change(Change{mod, p}); err != nil {
			return err
		}
		c.addNode(n)
		blobs.addNode(n)
		return nil
	})
}

// collectCommon adds the blobs below the tree tid, which both sides
// share, to the common set. Each tree is read once however often it
// occurs.
func (d *differ) collectCommon(ctx context.Context, tid id.ID) error {
	return walker.Walk(ctx, d.l, tid, walker.Options{Seen: d.commonTrees}, func(_ string, n *tree.Node, _ id.ID) error {
		d.common.addNode(n)
		return nil
	})
}

// mergeByName yields the nodes of two name-sorted lists by name, as pairs
// with nil for the side that lacks a name.
func mergeByName(a, b []*tree.Node) func(yield func(*tree.Node, *tree.Node) bool) {
	return func(yield func(*tree.Node, *tree.Node) bool) {
		i, j := 0, 0
		for i < len(a) || j < len(b) {
			var x, y *tree.Node
			switch {
			case j == len(b) || (i < len(a) && a[i].Name < b[j].Name):
				x = a[i]
				i++
			case i == len(a) || b[j].Name < a[i].Name:
				y = b[j]
				j++
			default:
				x, y = a[i], b[j]
				i, j = i+1, j+1
			}
			if !yield(x, y) {
				return
			}
		}
	}
}

// SameNode reports whether two nodes have the same metadata and content,
// as restic's Node.Equals decides it: every stored field, extended
// attributes compared as a set.
func SameNode(a, b *tree.Node) bool {
	switch {
	case a.Name != b.Name, a.Type != b.Type, a.Mode != b.Mode,
		!a.ModTime.Equal(b.ModTime), !a.AccessTime.Equal(b.AccessTime), !a.ChangeTime.Equal(b.ChangeTime),
		a.UID != b.UID, a.GID != b.GID, a.User != b.User, a.Group != b.Group,
		a.Inode != b.Inode, a.DeviceID != b.DeviceID, a.Size != b.Size, a.Links != b.Links,
		a.LinkTarget != b.LinkTarget, !bytes.Equal(a.LinkTargetRaw, b.LinkTargetRaw),
		a.Device != b.Device, a.Error != b.Error:
		return false
	case (a.Content == nil) != (b.Content == nil), !slices.Equal(a.Content, b.Content):
		return false
	case (a.Subtree == nil) != (b.Subtree == nil), a.Subtree != nil && *a.Subtree != *b.Subtree:
		return false
	}
	return sameAttributes(a.ExtendedAttributes, b.ExtendedAttributes)
}

// sameAttributes compares extended attributes regardless of order.
func sameAttributes(a, b []tree.ExtendedAttribute) bool {
	if len(a) != len(b) {
		return false
	}
	values := make(map[string][]byte, len(a))
	for _, x := range a {
		values[x.Name] = x.Value
	}
	for _, y := range b {
		v, ok := values[y.Name]
		if !ok || !bytes.Equal(v, y.Value) {
			return false
		}
		delete(values, y.Name)
	}
	return len(values) == 0
}
