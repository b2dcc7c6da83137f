package prune

import (
	"context"
	"sync"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/walker"
	"golang.org/x/sync/errgroup"
)

// BlobLoader loads a blob's verified plaintext (a repository with its
// index loaded). It must be safe for concurrent use.
type BlobLoader interface {
	LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error)
}

// usedSet is the set of blobs the snapshots need, safe for concurrent
// inserts.
type usedSet struct {
	mu sync.Mutex
	m  map[blob.Handle]struct{} // guarded by mu
}

// insert adds h and reports whether it was new.
func (u *usedSet) insert(h blob.Handle) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.m[h]; ok {
		return false
	}
	u.m[h] = struct{}{}
	return true
}

// walkWorkers bounds the trees loaded at once.
const walkWorkers = 8

// FindUsed returns every blob reachable from the root trees: the trees
// themselves, their subtrees and the data blobs of their files. Each tree
// is loaded once, several at a time. A tree that cannot be loaded or
// decoded fails the call: what it references is unknown.
func FindUsed(ctx context.Context, l BlobLoader, roots []id.ID) (map[blob.Handle]struct{}, error) {
	used := &usedSet{m: make(map[blob.Handle]struct{})}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(walkWorkers)
	var visit func(tid id.ID) error
	visit = func(tid id.ID) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		t, err := walker.LoadTree(gctx, l, tid)
		if err != nil {
			return err
		}
		for _, n := range t.Nodes {
			for _, c := range n.Content {
				used.insert(blob.Handle{ID: c, Type: blob.Data})
			}
			if n.Subtree == nil || !used.insert(blob.Handle{ID: *n.Subtree, Type: blob.Tree}) {
				continue
			}
			sub := *n.Subtree
			// Hand the subtree to a free worker, or walk it here if all
			// are busy (waiting for one could deadlock).
			if !g.TryGo(func() error { return visit(sub) }) {
				if err := visit(sub); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, root := range roots {
		if !used.insert(blob.Handle{ID: root, Type: blob.Tree}) {
			continue
		}
		g.Go(func() error { return visit(root) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return used.m, nil
}
