// Package walkertest is an in-memory blob store for tests of code that
// walks trees: it satisfies [walker.Loader] and builds trees from nodes.
package walkertest

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

var _ walker.Loader = (*Repo)(nil)

// Repo holds blobs in memory. It is safe for concurrent use.
type Repo struct {
	mu    sync.Mutex
	blobs map[blob.Handle][]byte // guarded by mu
	loads int                    // LoadBlob calls; guarded by mu
}

// New returns an empty Repo.
func New() *Repo { return &Repo{blobs: map[blob.Handle][]byte{}} }

// LoadBlob returns a copy of a stored blob, or an error for an unknown one.
func (r *Repo) LoadBlob(_ context.Context, h blob.Handle) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loads++
	b, ok := r.blobs[h]
	if !ok {
		return nil, fmt.Errorf("blob %v not found", h)
	}
	return append([]byte(nil), b...), nil
}

// Loads returns how many times LoadBlob was called.
func (r *Repo) Loads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loads
}

// Data stores a data blob and returns its ID.
func (r *Repo) Data(b []byte) id.ID {
	v := id.Hash(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobs[blob.Handle{ID: v, Type: blob.Data}] = append([]byte(nil), b...)
	return v
}

// Tree stores a tree of the given nodes (sorted by name first) and returns
// its ID. It panics on duplicate names or nodes that cannot be encoded, as
// those are mistakes in the test.
func (r *Repo) Tree(nodes ...*tree.Node) id.ID {
	var t tree.Tree
	for _, n := range nodes {
		if err := t.Insert(n); err != nil {
			panic(err)
		}
	}
	buf, err := t.Encode(nil)
	if err != nil {
		panic(err)
	}
	v := id.Hash(buf)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobs[blob.Handle{ID: v, Type: blob.Tree}] = buf
	return v
}

// File returns a file node whose content is chunks, each stored as a data
// blob.
func (r *Repo) File(name string, chunks ...string) *tree.Node {
	n := &tree.Node{Name: name, Type: tree.TypeFile, Mode: 0o644, Content: []id.ID{}}
	for _, c := range chunks {
		n.Content = append(n.Content, r.Data([]byte(c)))
		n.Size += uint64(len(c))
	}
	return n
}

// Dir stores a tree of nodes and returns a directory node for it.
func (r *Repo) Dir(name string, nodes ...*tree.Node) *tree.Node {
	sub := r.Tree(nodes...)
	return &tree.Node{Name: name, Type: tree.TypeDir, Mode: os.ModeDir | 0o755, Subtree: &sub}
}
