package walker

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

// FindPath returns the node at the absolute slash-separated path p below
// the tree root, loading only the trees on the way to it.
func FindPath(ctx context.Context, l Loader, root id.ID, p string) (*tree.Node, error) {
	cur := root
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, name := range parts {
		t, err := LoadTree(ctx, l, cur)
		if err != nil {
			return nil, err
		}
		n := t.Find(name)
		if n == nil {
			return nil, fmt.Errorf("path %s not found in the snapshot", p)
		}
		if i == len(parts)-1 {
			return n, nil
		}
		if n.Type != tree.TypeDir || n.Subtree == nil {
			return nil, fmt.Errorf("path %s not found in the snapshot (%s is not a directory)", p, name)
		}
		cur = *n.Subtree
	}
	return nil, fmt.Errorf("path %s not found in the snapshot", p)
}
