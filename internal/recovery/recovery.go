// Package recovery finds the directory trees of a repository that nothing
// refers to (no other tree and no snapshot) and builds a tree that lists
// them, for `recover`: the data of a snapshot removed by `forget` stays in
// the repository until prune, and its root tree is such an orphan.
package recovery

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// Loader reads blobs (the plaintext of trees).
type Loader interface {
	LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error)
}

// Saver stores a blob, within the repository's StartWriting/Finish
// session.
type Saver interface {
	SaveBlob(ctx context.Context, t blob.Type, buf []byte, bid id.ID) (id.ID, bool, int, error)
}

// BlobLister lists the blobs of an index (the repository's loaded index).
type BlobLister interface {
	Each(fn func(blob.Handle))
}

// Report says how the search went, for the caller to show.
type Report struct {
	// Trees is the number of tree blobs in the index; Loaded is called
	// after each one has been read (or failed), with the count so far.
	Loaded func(done int)
	// TreeError is told about a tree that cannot be loaded; the search goes
	// on without it (its subtrees may then show up as roots).
	TreeError func(tid id.ID, err error)
}

// TreeIDs returns the IDs of the tree blobs idx lists, sorted.
func TreeIDs(idx BlobLister) []id.ID {
	var ids []id.ID
	idx.Each(func(h blob.Handle) {
		if h.Type == blob.Tree {
			ids = append(ids, h.ID)
		}
	})
	slices.SortFunc(ids, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(ids)
}

// Roots returns the trees among trees (sorted) that are not the subtree
// of a directory in another of them, in the same order.
func Roots(ctx context.Context, l Loader, trees []id.ID, r Report) ([]id.ID, error) {
	referenced := id.NewSet()
	for i, tid := range trees {
		t, err := walker.LoadTree(ctx, l, tid)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			if r.TreeError != nil {
				r.TreeError(tid, err)
			}
		} else {
			for _, n := range t.Nodes {
				if n.Type == tree.TypeDir && n.Subtree != nil {
					referenced.Insert(*n.Subtree)
				}
			}
		}
		if r.Loaded != nil {
			r.Loaded(i + 1)
		}
	}
	var roots []id.ID
	for _, tid := range trees {
		if !referenced.Has(tid) {
			roots = append(roots, tid)
		}
	}
	return roots, nil
}

// WithoutSnapshotTrees returns roots without the trees of snapshots.
func WithoutSnapshotTrees(roots []id.ID, snapshotTrees []id.ID) []id.ID {
	used := id.NewSet(snapshotTrees...)
	var kept []id.ID
	for _, r := range roots {
		if !used.Has(r) {
			kept = append(kept, r)
		}
	}
	return kept
}

// RootTree returns a tree with one directory per root, named by the
// root's short ID (as restic names them; the full ID if two short IDs
// collide, where restic fails), with mode 0755 and the times set to now.
func RootTree(roots []id.ID, now func() time.Time) (*tree.Tree, error) {
	t := &tree.Tree{}
	for _, r := range roots {
		sub := r
		name := r.Str()
		if t.Find(name) != nil {
			name = r.String()
		}
		n := &tree.Node{
			Name:       name,
			Type:       tree.TypeDir,
			Mode:       0o755,
			AccessTime: now(),
			ModTime:    now(),
			ChangeTime: now(),
			Subtree:    &sub,
		}
		if err := t.Insert(n); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// SaveTree encodes t and saves it as a tree blob, returning its ID.
func SaveTree(ctx context.Context, s Saver, t *tree.Tree) (id.ID, error) {
	buf, err := t.Encode(nil)
	if err != nil {
		return id.ID{}, err
	}
	tid, _, _, err := s.SaveBlob(ctx, blob.Tree, buf, id.ID{})
	return tid, err
}
