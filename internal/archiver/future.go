package archiver

import (
	"context"

	"github.com/cairn-backup/cairn/internal/tree"
)

// future is a node that is complete once its file is read or its
// directory's tree is saved. A nil node means the entry was left out.
type future struct {
	ch   chan struct{}
	node *tree.Node
	err  error
}

func newFuture() *future { return &future{ch: make(chan struct{})} }

// done returns a completed future.
func done(n *tree.Node) *future {
	f := newFuture()
	f.complete(n)
	return f
}

func (f *future) complete(n *tree.Node) { f.node = n; close(f.ch) }
func (f *future) fail(err error)        { f.err = err; close(f.ch) }

func (f *future) wait(ctx context.Context) (*tree.Node, error) {
	select {
	case <-f.ch:
		return f.node, f.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
