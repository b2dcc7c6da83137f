package checker

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
	"golang.org/x/sync/errgroup"
)

// treeBatch is how many trees are loaded concurrently before their nodes
// are checked.
const treeBatch = 64

// snapshotLoaders bounds the snapshot files loaded at once.
const snapshotLoaders = 8

// treeInfo records how the walk reached a tree, to name its path and the
// snapshots that use it when something is wrong with it.
type treeInfo struct {
	parents []id.ID // trees that list it as a subtree; none for a root
	name    string  // its name in parents[0]
}

// treeProblem is something wrong with a tree (node == "") or with one of
// its nodes.
type treeProblem struct {
	tree id.ID
	node string
	kind string // of the node: "file", "dir" or "node"
	msg  string
}

// walkState is the state of Structure's walk.
type walkState struct {
	trees    map[id.ID]*treeInfo // every tree reached
	roots    map[id.ID][]id.ID   // root tree → snapshots
	queue    []id.ID             // reached, not yet checked
	problems []treeProblem
}

// reach records that parent lists tid as name and queues tid if it is new.
// A zero parent means tid is a snapshot's root.
func (w *walkState) reach(tid, parent id.ID, name string) {
	info, ok := w.trees[tid]
	if !ok {
		info = &treeInfo{name: name}
		w.trees[tid] = info
		w.queue = append(w.queue, tid)
	}
	// The nodes of one tree are checked together, so a repeat from the
	// same parent is always the last one recorded.
	if !parent.IsNull() && (len(info.parents) == 0 || info.parents[len(info.parents)-1] != parent) {
		info.parents = append(info.parents, parent)
	}
}

// path returns the path at which tid was first reached.
func (w *walkState) path(tid id.ID) string {
	var names []string
	for range 1 << 16 { // trees cannot form cycles; the bound guards bad data
		info := w.trees[tid]
		if info == nil || len(info.parents) == 0 {
			break
		}
		names = append(names, info.name)
		tid = info.parents[0]
	}
	slices.Reverse(names)
	return path.Join(append([]string{"/"}, names...)...)
}

// snapshots returns the snapshots from which tid can be reached, sorted.
func (w *walkState) snapshots(tid id.ID) []id.ID {
	seen := id.NewSet(tid)
	found := id.NewSet()
	stack := []id.ID{tid}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, sid := range w.roots[t] {
			found.Insert(sid)
		}
		if info := w.trees[t]; info != nil {
			for _, p := range info.parents {
				if !seen.Has(p) {
					seen.Insert(p)
					stack = append(stack, p)
				}
			}
		}
	}
	return sortedIDs(found)
}

// Structure loads every snapshot and checks every tree they reach, once
// each: a snapshot that does not load or decode, a tree that the index
// does not list or that does not load or decode, a file whose data blob
// the index does not list, and nodes that lack what their type needs are
// errors, and so is a file whose data blob is only in packs that Packs
// found missing. Each is reported with its path and the snapshots it affects.
// The error is about listing snapshots, or ctx.
func (c *Checker) Structure(ctx context.Context) error {
	w := &walkState{trees: make(map[id.ID]*treeInfo), roots: make(map[id.ID][]id.ID)}
	if err := c.loadSnapshots(ctx, w); err != nil {
		return err
	}
	for len(w.queue) > 0 {
		n := min(len(w.queue), treeBatch)
		batch := w.queue[:n]
		w.queue = w.queue[n:]
		trees, errs := c.loadTrees(ctx, batch)
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, tid := range batch {
			if errs[i] != nil {
				w.problems = append(w.problems, treeProblem{tree: tid, msg: errs[i].Error()})
				continue
			}
			c.checkTree(w, tid, trees[i])
		}
	}
	c.reportTrees(w)
	return nil
}

// loadSnapshots loads all snapshots, reports those that fail and queues
// the root trees of the others.
func (c *Checker) loadSnapshots(ctx context.Context, w *walkState) error {
	var ids []id.ID
	err := c.repo.ListSnapshots(ctx, func(sid id.ID) error {
		ids = append(ids, sid)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	slices.SortFunc(ids, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	snaps := make([]*snapshot.Snapshot, len(ids))
	errs := make([]error, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(snapshotLoaders)
	for i, sid := range ids {
		g.Go(func() error {
			snaps[i], errs[i] = snapshot.Load(gctx, c.repo, sid)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, sid := range ids {
		if errs[i] != nil {
			c.errorf("snapshot "+sid.String(), "%v", errs[i])
			continue
		}
		if c.snapFilter != nil && !c.snapFilter(snaps[i]) {
			continue
		}
		c.checkedSnaps++
		root := *snaps[i].Tree
		w.reach(root, id.ID{}, "")
		w.roots[root] = append(w.roots[root], sid)
	}
	return nil
}

// loadTrees loads and decodes a batch of trees concurrently.
func (c *Checker) loadTrees(ctx context.Context, batch []id.ID) ([]*tree.Tree, []error) {
	trees := make([]*tree.Tree, len(batch))
	errs := make([]error, len(batch))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(4, c.repo.Connections()))
	for i, tid := range batch {
		g.Go(func() error {
			h := blob.Handle{ID: tid, Type: blob.Tree}
			if !c.repo.HasBlob(h) {
				errs[i] = fmt.Errorf("not found in index")
				return nil
			}
			var err error
			trees[i], err = walker.LoadTree(gctx, c.repo, tid)
			switch {
			case errors.Is(err, tree.ErrInvalidData):
				errs[i] = fmt.Errorf("cannot decode: %w", err)
			case err != nil:
				errs[i] = fmt.Errorf("cannot load: %w", err)
			}
			return nil
		})
	}
	_ = g.Wait()
	return trees, errs
}

// checkTree checks the nodes of tree tid and queues its subtrees.
func (c *Checker) checkTree(w *walkState, tid id.ID, t *tree.Tree) {
	problem := func(n *tree.Node, kind, format string, args ...any) {
		w.problems = append(w.problems, treeProblem{tree: tid, node: n.Name, kind: kind, msg: fmt.Sprintf(format, args...)})
	}
	for _, n := range t.Nodes {
		switch n.Type {
		case tree.TypeFile:
			if n.Content == nil {
				problem(n, "file", "has no content list")
			}
			for i, b := range n.Content {
				switch {
				case b.IsNull():
					problem(n, "file", "blob %d has a null ID", i)
				case !c.repo.HasBlob(blob.Handle{ID: b, Type: blob.Data}):
					problem(n, "file", "data blob %v not found in index", b)
				default:
					if lost, packs := c.lost(blob.Handle{ID: b, Type: blob.Data}); lost {
						problem(n, "file", "data blob %v is in missing pack %s", b, shortList(packs))
					}
				}
			}
		case tree.TypeDir:
			switch {
			case n.Subtree == nil:
				problem(n, "dir", "has no subtree")
			case n.Subtree.IsNull():
				problem(n, "dir", "has a null subtree ID")
			default:
				w.reach(*n.Subtree, tid, n.Name)
			}
		case tree.TypeSymlink, tree.TypeDev, tree.TypeCharDev, tree.TypeFifo, tree.TypeSocket,
			"irregular": // written by newer restic versions for what they cannot classify
		default:
			problem(n, "node", "has unknown type %q", n.Type)
		}
	}
}

// reportTrees reports the problems of the walk, by path.
func (c *Checker) reportTrees(w *walkState) {
	type line struct{ path, object, msg string }
	lines := make([]line, 0, len(w.problems))
	for _, p := range w.problems {
		snaps := w.snapshots(p.tree)
		where := "snapshot " + shortList(snaps)
		if len(snaps) > 1 {
			where = "snapshots " + shortList(snaps)
		}
		dir := w.path(p.tree)
		if p.node == "" {
			lines = append(lines, line{dir, fmt.Sprintf("tree %v at %q (%s)", p.tree.Str(), dir, where), p.msg})
			continue
		}
		np := path.Join(dir, p.node)
		lines = append(lines, line{np, fmt.Sprintf("%s %q (%s, tree %v)", p.kind, np, where, p.tree.Str()), p.msg})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return cmp.Compare(a.path, b.path) })
	for _, l := range lines {
		c.errorf(l.object, "%s", l.msg)
	}
}
