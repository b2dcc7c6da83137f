package find

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// Patterns compiles the name patterns. Like restic, find does not negate:
// a leading "!" is dropped.
func Patterns(args []string, ignoreCase bool) ([]filter.Pattern, error) {
	plain := make([]string, len(args))
	for i, a := range args {
		plain[i] = strings.TrimPrefix(a, "!")
	}
	pats, err := filter.ParsePatterns(plain, ignoreCase)
	if err != nil {
		return nil, err
	}
	if len(pats) == 0 {
		return nil, errors.New("no pattern given")
	}
	return pats, nil
}

// Names calls fn, in walk order, for every entry below the tree root whose
// path pats match. Directories that neither match nor may hold a match
// are not entered.
func Names(ctx context.Context, l walker.Loader, root id.ID, pats []filter.Pattern, fn func(p string, n *tree.Node) error) error {
	return walker.Walk(ctx, l, root, walker.Options{}, func(p string, n *tree.Node, _ id.ID) error {
		matched := false
		if n.Type == tree.TypeDir {
			var below bool
			if matched, below = filter.MatchChildren(pats, p); !matched && !below {
				return walker.SkipDir
			}
		} else {
			matched = filter.Match(pats, p)
		}
		if !matched {
			return nil
		}
		return fn(p, n)
	})
}

// Prefixes matches IDs against lower-case hex prefixes.
type Prefixes []string

// NewPrefixes returns the prefixes args in lower case.
func NewPrefixes(args []string) Prefixes {
	out := make(Prefixes, len(args))
	for i, a := range args {
		out[i] = strings.ToLower(a)
	}
	return out
}

// Match returns the first prefix v starts with, and whether there is one.
func (ps Prefixes) Match(v id.ID) (string, bool) {
	s := v.String()
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return p, true
		}
	}
	return "", false
}

// Object is a found blob or tree.
type Object struct {
	// Kind is "blob" for a data blob of a file, "tree" for the tree of a
	// directory.
	Kind string
	ID   id.ID
	// Path is the path of the file or directory.
	Path string
	// Parent is the tree that lists the file or directory.
	Parent id.ID
}

// IDs calls fn, in walk order, for every data blob of a file (or, with
// trees, every tree: the root's and every directory's) below root whose
// ID starts with one of ps.
func IDs(ctx context.Context, l walker.Loader, root id.ID, ps Prefixes, trees bool, fn func(Object) error) error {
	if trees {
		return Search(ctx, l, root, nil, ps, fn)
	}
	return Search(ctx, l, root, ps, nil, fn)
}

// Search calls fn, in walk order, for every data blob of a file whose ID
// starts with one of data and every tree (the root, at "/", and those of
// directories) whose ID starts with one of trees.
func Search(ctx context.Context, l walker.Loader, root id.ID, data, trees Prefixes, fn func(Object) error) error {
	if _, ok := trees.Match(root); ok {
		if err := fn(Object{Kind: "tree", ID: root, Path: "/"}); err != nil {
			return err
		}
	}
	return walker.Walk(ctx, l, root, walker.Options{}, func(p string, n *tree.Node, parent id.ID) error {
		switch {
		case len(trees) > 0 && n.Type == tree.TypeDir && n.Subtree != nil:
			if _, ok := trees.Match(*n.Subtree); ok {
				return fn(Object{Kind: "tree", ID: *n.Subtree, Path: p, Parent: parent})
			}
		case len(data) > 0 && n.Type == tree.TypeFile:
			for _, c := range n.Content {
				if _, ok := data.Match(c); ok {
					if err := fn(Object{Kind: "blob", ID: c, Path: p, Parent: parent}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// PackBlobs returns the IDs of the data and tree blobs the index places
// in the packs whose IDs start with packs. Every prefix must match a pack
// the index knows (restic also reads the headers of packs missing from
// the index). The repository's index must be loaded.
func PackBlobs(repo *repository.Repository, packs Prefixes) (data, trees Prefixes, err error) {
	var handles []blob.Handle
	repo.Index().Each(func(h blob.Handle) { handles = append(handles, h) })
	found := map[string]bool{}
	for _, h := range handles {
		for _, loc := range repo.Locate(h) {
			p, ok := packs.Match(loc.PackID)
			if !ok {
				continue
			}
			found[p] = true
			switch h.Type {
			case blob.Data:
				data = append(data, h.ID.String())
			case blob.Tree:
				trees = append(trees, h.ID.String())
			}
			break
		}
	}
	var missing []string
	for _, p := range packs {
		if !found[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, nil, fmt.Errorf("unable to find pack(s): %v", missing)
	}
	return data, trees, nil
}
