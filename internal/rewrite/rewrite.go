// Package rewrite builds new versions of snapshot trees with some nodes
// changed or left out, as `rewrite` and `repair snapshots` need. Unchanged
// subtrees keep their IDs; changed trees are saved as new tree blobs.
package rewrite

import (
	"context"
	"fmt"
	"path"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// Repo is what rewriting needs: reading trees and saving new ones (within
// a StartWriting/Finish session).
type Repo interface {
	LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error)
	SaveBlob(ctx context.Context, t blob.Type, buf []byte, bid id.ID) (id.ID, bool, int, error)
}

// NodeFunc decides about one node at a path: return it (maybe changed) to
// keep it, or nil to leave it out. It is called for directories before
// their contents.
type NodeFunc func(p string, n *tree.Node) *tree.Node

// TreeErrorFunc handles a tree that cannot be loaded: return a
// replacement tree ID (for example an empty tree) or an error to stop.
type TreeErrorFunc func(p string, tid id.ID, err error) (id.ID, error)

// Rewriter rewrites trees. Results are memoised per tree ID and path-free
// subtrees, so each tree is processed once per path.
type Rewriter struct {
	Repo      Repo
	Node      NodeFunc
	TreeError TreeErrorFunc
}

// Rewrite returns the ID of the rewritten version of tree tid found at
// path p ("/" for a snapshot root), and whether anything changed.
func (rw *Rewriter) Rewrite(ctx context.Context, p string, tid id.ID) (id.ID, bool, error) {
	t, err := walker.LoadTree(ctx, rw.Repo, tid)
	if err != nil {
		if rw.TreeError == nil {
			return id.ID{}, false, fmt.Errorf("%s: %w", p, err)
		}
		nid, ferr := rw.TreeError(p, tid, err)
		return nid, nid != tid, ferr
	}
	out := &tree.Tree{Nodes: make([]*tree.Node, 0, len(t.Nodes))}
	changed := false
	for _, n := range t.Nodes {
		np := path.Join(p, n.Name)
		keep := n
		if rw.Node != nil {
			keep = rw.Node(np, n)
		}
		if keep == nil {
			changed = true
			continue
		}
		if keep != n {
			changed = true
		}
		if keep.Type == tree.TypeDir && keep.Subtree != nil {
			sub, subChanged, err := rw.Rewrite(ctx, np, *keep.Subtree)
			if err != nil {
				return id.ID{}, false, err
			}
			if subChanged {
				c := *keep
				c.Subtree = &sub
				keep = &c
				changed = true
			}
		}
		out.Nodes = append(out.Nodes, keep)
	}
	if !changed {
		return tid, false, nil
	}
	enc, err := out.Encode(nil)
	if err != nil {
		return id.ID{}, false, err
	}
	nid, _, _, err := rw.Repo.SaveBlob(ctx, blob.Tree, enc, id.ID{})
	if err != nil {
		return id.ID{}, false, err
	}
	return nid, true, nil
}

// EmptyTree saves an empty tree and returns its ID.
func EmptyTree(ctx context.Context, repo Repo) (id.ID, error) {
	enc, err := (&tree.Tree{}).Encode(nil)
	if err != nil {
		return id.ID{}, err
	}
	nid, _, _, err := repo.SaveBlob(ctx, blob.Tree, enc, id.ID{})
	return nid, err
}
