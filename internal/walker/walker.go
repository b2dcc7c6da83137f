// Package walker visits the nodes of a snapshot's directory trees, depth
// first and in name order, loading each tree blob only when it is entered.
// The commands that read snapshots (ls, find, dump, stats) share it.
package walker

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

// Loader is what the walker needs from a repository: the plaintext of a
// blob. The walker calls it from the goroutine that called [Walk].
type Loader interface {
	LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error)
}

// Control values a [Func] may return.
var (
	// SkipDir, returned for a directory node, leaves its contents out; the
	// walk goes on with the node's next sibling. For any other node it
	// skips the remaining nodes of the same directory.
	SkipDir = errors.New("skip this directory")
	// SkipAll stops the walk; Walk then returns nil.
	SkipAll = errors.New("skip everything")
)

// Func is called once for every node: p is the node's slash-separated path
// (the root tree's prefix joined with the names below it) and parent is the
// ID of the tree that lists the node. An error other than [SkipDir] or
// [SkipAll] stops the walk and is returned by Walk.
type Func func(p string, n *tree.Node, parent id.ID) error

// Options tune a walk. The zero value walks everything below "/".
type Options struct {
	// Prefix is the path of the root tree; "" means "/".
	Prefix string
	// Seen, if not nil, holds trees that are not walked again: a directory
	// whose subtree is in Seen is neither passed to the Func nor entered.
	// Every tree the walk enters, the root included, is added to it, so one
	// set shared by several walks visits each distinct tree once.
	Seen id.Set
}

// LoadTree loads and decodes the tree blob tid. Its nodes are sorted by
// name.
func LoadTree(ctx context.Context, l Loader, tid id.ID) (*tree.Tree, error) {
	buf, err := l.LoadBlob(ctx, blob.Handle{ID: tid, Type: blob.Tree})
	if err != nil {
		return nil, fmt.Errorf("load tree %v: %w", tid.Str(), err)
	}
	t, err := tree.Decode(buf)
	if err != nil {
		return nil, fmt.Errorf("tree %v: %w", tid.Str(), err)
	}
	// restic writes nodes sorted by name; sort those of other writers so
	// that walks and comparisons go in name order all the same.
	byName := func(a, b *tree.Node) int { return strings.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(t.Nodes, byName) {
		slices.SortStableFunc(t.Nodes, byName)
	}
	return t, nil
}

// Walk calls fn for every node below the tree root, parents before their
// children and siblings in name order. With [Options.Seen] set and root
// already in it, Walk does nothing.
func Walk(ctx context.Context, l Loader, root id.ID, o Options, fn Func) error {
	prefix := o.Prefix
	if prefix == "" {
		prefix = "/"
	}
	if o.Seen != nil {
		if o.Seen.Has(root) {
			return nil
		}
		o.Seen.Insert(root)
	}
	err := walk(ctx, l, prefix, root, o.Seen, fn)
	if errors.Is(err, SkipAll) {
		return nil
	}
	return err
}

func walk(ctx context.Context, l Loader, dir string, tid id.ID, seen id.Set, fn Func) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := LoadTree(ctx, l, tid)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	for _, n := range t.Nodes {
		p := path.Join(dir, n.Name)
		isDir := n.Type == tree.TypeDir
		if isDir && n.Subtree == nil {
			return fmt.Errorf("%s: directory without subtree in tree %v: %w", p, tid.Str(), tree.ErrInvalidData)
		}
		if isDir && seen != nil {
			if seen.Has(*n.Subtree) {
				continue
			}
		}
		err := fn(p, n, tid)
		switch {
		case errors.Is(err, SkipDir) && isDir:
			continue
		case errors.Is(err, SkipDir):
			return nil
		case err != nil:
			return err
		}
		if !isDir {
			continue
		}
		if seen != nil {
			seen.Insert(*n.Subtree)
		}
		if err := walk(ctx, l, p, *n.Subtree, seen, fn); err != nil {
			return err
		}
	}
	return nil
}
