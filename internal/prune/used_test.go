package prune_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/google/go-cmp/cmp"
)

// fakeLoader serves tree blobs from memory and counts loads.
type fakeLoader struct {
	trees map[id.ID][]byte
	loads atomic.Int64
}

func (f *fakeLoader) LoadBlob(_ context.Context, h blob.Handle) ([]byte, error) {
	f.loads.Add(1)
	if b, ok := f.trees[h.ID]; ok && h.Type == blob.Tree {
		return b, nil
	}
	return nil, errors.New("no such blob")
}

func (f *fakeLoader) add(t *testing.T, nodes ...*tree.Node) id.ID {
	t.Helper()
	buf, err := (&tree.Tree{Nodes: nodes}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	tid := id.ID(sha256.Sum256(buf))
	f.trees[tid] = buf
	return tid
}

func TestFindUsed(t *testing.T) {
	f := &fakeLoader{trees: map[id.ID][]byte{}}
	empty := f.add(t)
	sub := f.add(t,
		&tree.Node{Name: "b", Type: tree.TypeFile, Content: []id.ID{bid("d2"), bid("d3")}},
		&tree.Node{Name: "e", Type: tree.TypeDir, Subtree: &empty},
	)
	root1 := f.add(t,
		&tree.Node{Name: "a", Type: tree.TypeFile, Content: []id.ID{bid("d1"), bid("d2")}},
		&tree.Node{Name: "s", Type: tree.TypeDir, Subtree: &sub},
	)
	root2 := f.add(t, &tree.Node{Name: "t", Type: tree.TypeDir, Subtree: &sub}, &tree.Node{Name: "u", Type: tree.TypeDir, Subtree: &sub})
	used, err := prune.FindUsed(t.Context(), f, []id.ID{root1, root2, root1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[blob.Handle]struct{}{}
	for _, tid := range []id.ID{empty, sub, root1, root2} {
		want[blob.Handle{ID: tid, Type: blob.Tree}] = struct{}{}
	}
	for _, d := range []string{"d1", "d2", "d3"} {
		want[blob.Handle{ID: bid(d), Type: blob.Data}] = struct{}{}
	}
	if diff := cmp.Diff(want, used); diff != "" {
		t.Errorf("FindUsed (-want +got):\n%s", diff)
	}
	if n := f.loads.Load(); n != 4 {
		t.Errorf("loaded %d trees, want each of the 4 once", n)
	}

	missing := id.ID(sha256.Sum256([]byte("missing")))
	bad := f.add(t, &tree.Node{Name: "m", Type: tree.TypeDir, Subtree: &missing})
	if _, err := prune.FindUsed(t.Context(), f, []id.ID{root1, bad}); err == nil {
		t.Error("FindUsed with a missing tree succeeded")
	}
}

// TestFindUsedWide walks many trees with more subtrees than workers, so
// that walking falls back to the calling goroutine without deadlock.
func TestFindUsedWide(t *testing.T) {
	f := &fakeLoader{trees: map[id.ID][]byte{}}
	var level []*tree.Node
	for i := range 50 {
		leaf := f.add(t, &tree.Node{Name: "f", Type: tree.TypeFile, Content: []id.ID{bid(fmt.Sprint(i))}})
		var kids []*tree.Node
		for j := range 20 {
			kids = append(kids, &tree.Node{Name: fmt.Sprintf("k%02d", j), Type: tree.TypeDir, Subtree: &leaf})
		}
		mid := f.add(t, kids...)
		level = append(level, &tree.Node{Name: fmt.Sprintf("m%02d", i), Type: tree.TypeDir, Subtree: &mid})
	}
	root := f.add(t, level...)
	used, err := prune.FindUsed(t.Context(), f, []id.ID{root})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) != 1+50+50+50 {
		t.Errorf("FindUsed found %d blobs, want %d", len(used), 151)
	}
}
