package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
	"github.com/spf13/cobra"
)

type diffOptions struct {
	Metadata bool
	JSON     bool
}

func newDiffCommand(g *globalOptions) *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff [flags] SNAPSHOT[:PATH] SNAPSHOT[:PATH]",
		Short: "Show what changed from one snapshot to another",
		Long: `Show what changed from the first snapshot to the second, one line per
path, and a summary. The first column says what happened:

  +  the path was added
  -  the path was removed
  M  the file's content changed
  U  only the metadata changed (mode, times, owner, ...; with --metadata)
  T  the type changed, for example a file became a symlink

A directory whose contents changed counts as changed metadata. With :PATH
after a snapshot, the directory at PATH in it is compared instead of the
whole snapshot. Directories that are identical in both are skipped without
being read, except to count their blobs for the summary.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd, g, o, args[0], args[1])
		},
	}
	cmd.Flags().BoolVar(&o.Metadata, "metadata", false, "also show paths whose metadata changed")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON, one object a line")
	return cmd
}

func runDiff(cmd *cobra.Command, g *globalOptions, o diffOptions, ref1, ref2 string) error {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	sn1, sub1, err := findSnapshotPath(ctx, repo, ref1)
	if err != nil {
		return err
	}
	sn2, sub2, err := findSnapshotPath(ctx, repo, ref2)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush() // what was printed before an error
	if !o.JSON && !g.Quiet {
		fmt.Fprintf(out, "comparing snapshot %s to %s:\n\n", sn1.ID.Str(), sn2.ID.Str())
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	tree1, err := subtreeID(ctx, repo, sn1, sub1)
	if err != nil {
		return err
	}
	tree2, err := subtreeID(ctx, repo, sn2, sub2)
	if err != nil {
		return err
	}
	d := newDiffer(repo, out, o, g.Quiet)
	d.before.add(blob.Handle{ID: tree1, Type: blob.Tree})
	d.after.add(blob.Handle{ID: tree2, Type: blob.Tree})
	if err := d.diffTree(ctx, "/", tree1, tree2); err != nil {
		return err
	}
	if err := d.err; err != nil {
		return err
	}
	if err := d.printSummary(ref1, ref2); err != nil {
		return err
	}
	return out.Flush()
}

// findSnapshotPath resolves "SNAPSHOT[:PATH]" to the snapshot and the
// cleaned absolute path ("/" without one).
func findSnapshotPath(ctx context.Context, repo *repository.Repository, ref string) (*snapshot.Snapshot, string, error) {
	name, sub, _ := strings.Cut(ref, ":")
	sn, err := snapshot.Find(ctx, repo, name, snapshot.Filter{})
	if err != nil {
		return nil, "", err
	}
	return sn, path.Clean("/" + sub), nil
}

// subtreeID returns the ID of the tree of the directory p in sn.
func subtreeID(ctx context.Context, repo *repository.Repository, sn *snapshot.Snapshot, p string) (id.ID, error) {
	if p == "/" {
		return *sn.Tree, nil
	}
	n, err := findPath(ctx, repo, *sn.Tree, p)
	if err != nil {
		return id.ID{}, err
	}
	if n.Type != tree.TypeDir || n.Subtree == nil {
		return id.ID{}, fmt.Errorf("%s in snapshot %s is not a directory", p, sn.ID.Str())
	}
	return *n.Subtree, nil
}

// diffBlobSet is a set of blobs.
type diffBlobSet map[blob.Handle]struct{}

func (s diffBlobSet) add(h blob.Handle) { s[h] = struct{}{} }

// addNode adds the blobs a node refers to directly: a file's data blobs or
// a directory's tree.
func (s diffBlobSet) addNode(n *tree.Node) {
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

// diffCount counts one side's entries and blobs.
type diffCount struct {
	Files     int    `json:"files"`
	Dirs      int    `json:"dirs"`
	Others    int    `json:"others"`
	DataBlobs int    `json:"data_blobs"`
	TreeBlobs int    `json:"tree_blobs"`
	Bytes     uint64 `json:"bytes"`
}

func (c *diffCount) addNode(n *tree.Node) {
	switch n.Type {
	case tree.TypeFile:
		c.Files++
	case tree.TypeDir:
		c.Dirs++
	default:
		c.Others++
	}
}

// differ compares two trees and prints the changes as it finds them.
type differ struct {
	repo  *repository.Repository
	out   io.Writer
	o     diffOptions
	quiet bool
	err   error // first error printing JSON

	added, removed diffCount
	changedFiles   int

	// Blobs referred to by the first and second tree, and by directories
	// that are the same in both (whose trees are in common too).
	before, after, common diffBlobSet
	commonTrees           id.Set // trees whose blobs are in common
}

func newDiffer(repo *repository.Repository, out io.Writer, o diffOptions, quiet bool) *differ {
	return &differ{repo: repo, out: out, o: o, quiet: quiet, before: diffBlobSet{}, after: diffBlobSet{}, common: diffBlobSet{}, commonTrees: id.NewSet()}
}

// change prints one line of the listing (none with --quiet, as restic).
func (d *differ) change(mod, p string) {
	if !d.o.JSON {
		if !d.quiet {
			fmt.Fprintf(d.out, "%-5s%s\n", mod, p)
		}
		return
	}
	d.printJSON(struct {
		MessageType string `json:"message_type"`
		Path        string `json:"path"`
		Modifier    string `json:"modifier"`
	}{"change", p, mod})
}

func (d *differ) printJSON(v any) {
	b, err := json.Marshal(v)
	if err == nil {
		_, err = d.out.Write(append(b, '\n'))
	}
	if err != nil && d.err == nil {
		d.err = err
	}
}

// diffPath is a node's path as the listing shows it: directories end
// in a slash.
func diffPath(dir string, n *tree.Node) string {
	p := path.Join(dir, n.Name)
	if n.Type == tree.TypeDir {
		p += "/"
	}
	return p
}

// diffTree compares the trees id1 and id2 found at dir, in name order.
func (d *differ) diffTree(ctx context.Context, dir string, id1, id2 id.ID) error {
	t1, err := walker.LoadTree(ctx, d.repo, id1)
	if err != nil {
		return err
	}
	t2, err := walker.LoadTree(ctx, d.repo, id2)
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
			if err := d.listTree(ctx, "-", dir, n1, &d.removed, d.before); err != nil {
				return err
			}
		case n1 == nil:
			if err := d.listTree(ctx, "+", dir, n2, &d.added, d.after); err != nil {
				return err
			}
		default:
			if err := d.diffNodes(ctx, dir, n1, n2); err != nil {
				return err
			}
		}
	}
	return nil
}

// diffNodes compares two nodes of the same name.
func (d *differ) diffNodes(ctx context.Context, dir string, n1, n2 *tree.Node) error {
	mod := ""
	if n1.Type != n2.Type {
		mod += "T"
	}
	switch {
	case n1.Type == tree.TypeFile && n2.Type == tree.TypeFile && !slices.Equal(n1.Content, n2.Content):
		mod += "M"
		d.changedFiles++
	case d.o.Metadata && !sameNode(n1, n2):
		mod += "U"
	}
	if mod != "" {
		d.change(mod, diffPath(dir, n2))
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
		if err := d.listContents(ctx, "-", p, *n1.Subtree, &d.removed, d.before); err != nil {
			return err
		}
	}
	if n2.Type == tree.TypeDir {
		return d.listContents(ctx, "+", p, *n2.Subtree, &d.added, d.after)
	}
	return nil
}

// listTree lists n, found at dir, and everything below it as added or
// removed (mod), counting them in c and their blobs in blobs.
func (d *differ) listTree(ctx context.Context, mod, dir string, n *tree.Node, c *diffCount, blobs diffBlobSet) error {
	d.change(mod, diffPath(dir, n))
	c.addNode(n)
	if n.Type != tree.TypeDir {
		return nil
	}
	return d.listContents(ctx, mod, path.Join(dir, n.Name), *n.Subtree, c, blobs)
}

// listContents is listTree for the contents of the tree tid found at dir.
func (d *differ) listContents(ctx context.Context, mod, dir string, tid id.ID, c *diffCount, blobs diffBlobSet) error {
	return walker.Walk(ctx, d.repo, tid, walker.Options{Prefix: dir}, func(p string, n *tree.Node, _ id.ID) error {
		if n.Type == tree.TypeDir {
			p += "/"
		}
		d.change(mod, p)
		c.addNode(n)
		blobs.addNode(n)
		return nil
	})
}

// collectCommon adds the blobs below the tree tid, which both sides
// share, to the common set. Each tree is read once however often it
// occurs.
func (d *differ) collectCommon(ctx context.Context, tid id.ID) error {
	return walker.Walk(ctx, d.repo, tid, walker.Options{Seen: d.commonTrees}, func(_ string, n *tree.Node, _ id.ID) error {
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

// sameNode reports whether two nodes have the same metadata and content,
// as restic's Node.Equals decides it: every stored field, extended
// attributes compared as a set.
func sameNode(a, b *tree.Node) bool {
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

// printSummary counts the blobs only one side refers to and prints the
// totals.
func (d *differ) printSummary(ref1, ref2 string) error {
	idx := d.repo.Index()
	count := func(own, other diffBlobSet, c *diffCount) {
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
			if size, ok := idx.Size(h); ok {
				c.Bytes += uint64(size)
			}
		}
	}
	count(d.before, d.after, &d.removed)
	count(d.after, d.before, &d.added)
	if d.o.JSON {
		d.printJSON(struct {
			MessageType    string    `json:"message_type"`
			SourceSnapshot string    `json:"source_snapshot"`
			TargetSnapshot string    `json:"target_snapshot"`
			ChangedFiles   int       `json:"changed_files"`
			Added          diffCount `json:"added"`
			Removed        diffCount `json:"removed"`
		}{"statistics", ref1, ref2, d.changedFiles, d.added, d.removed})
		return d.err
	}
	w := d.out
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Files:       %5d new, %5d removed, %5d changed\n", d.added.Files, d.removed.Files, d.changedFiles)
	fmt.Fprintf(w, "Dirs:        %5d new, %5d removed\n", d.added.Dirs, d.removed.Dirs)
	fmt.Fprintf(w, "Others:      %5d new, %5d removed\n", d.added.Others, d.removed.Others)
	fmt.Fprintf(w, "Data Blobs:  %5d new, %5d removed\n", d.added.DataBlobs, d.removed.DataBlobs)
	fmt.Fprintf(w, "Tree Blobs:  %5d new, %5d removed\n", d.added.TreeBlobs, d.removed.TreeBlobs)
	fmt.Fprintf(w, "  Added:   %-5s\n", formatBytes(d.added.Bytes))
	fmt.Fprintf(w, "  Removed: %-5s\n", formatBytes(d.removed.Bytes))
	return nil
}
