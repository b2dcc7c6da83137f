package tree

import (
	"errors"
	"fmt"
	"sort"
)

// ErrInvalidData is wrapped by every error [Decode] returns for bytes that
// are not a valid tree.
var ErrInvalidData = errors.New("invalid tree data")

// ErrDuplicate is wrapped by the error [Tree.Insert] returns for a name that
// is already present.
var ErrDuplicate = errors.New("duplicate node name")

// Tree is the list of entries of one directory. Nodes are sorted by Name in
// byte order, which [Tree.Insert] maintains; [Tree.Find] relies on it.
type Tree struct {
	Nodes []*Node
}

// search returns the index of the first node whose name is not less than name.
func (t *Tree) search(name string) int {
	return sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= name })
}

// Insert adds n in its sorted place. It returns an error wrapping
// [ErrDuplicate] if a node of the same name is already present.
func (t *Tree) Insert(n *Node) error {
	i := t.search(n.Name)
	if i < len(t.Nodes) && t.Nodes[i].Name == n.Name {
		return fmt.Errorf("insert %q: %w", n.Name, ErrDuplicate)
	}
	t.Nodes = append(t.Nodes, nil)
	copy(t.Nodes[i+1:], t.Nodes[i:])
	t.Nodes[i] = n
	return nil
}

// Find returns the node called name, or nil.
func (t *Tree) Find(name string) *Node {
	i := t.search(name)
	if i < len(t.Nodes) && t.Nodes[i].Name == name {
		return t.Nodes[i]
	}
	return nil
}
