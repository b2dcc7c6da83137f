package recovery_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/recovery"
	"github.com/cairn-backup/cairn/internal/tree"
)

// store is an in-memory blob store and index.
type store struct {
	blobs map[blob.Handle][]byte
	saved int
}

func newStore() *store { return &store{blobs: map[blob.Handle][]byte{}} }

func (s *store) LoadBlob(_ context.Context, h blob.Handle) ([]byte, error) {
	b, ok := s.blobs[h]
	if !ok {
		return nil, errors.New("no such blob")
	}
	return b, nil
}

func (s *store) SaveBlob(_ context.Context, t blob.Type, buf []byte, _ id.ID) (id.ID, bool, int, error) {
	bid := id.Hash(buf)
	s.blobs[blob.Handle{ID: bid, Type: t}] = slices.Clone(buf)
	s.saved++
	return bid, false, len(buf), nil
}

func (s *store) Each(fn func(blob.Handle)) {
	for h := range s.blobs {
		fn(h)
	}
}

// dir saves a tree with one directory per subtree and one file, and
// returns its ID.
func (s *store) dir(t *testing.T, file string, subs ...id.ID) id.ID {
	t.Helper()
	tr := &tree.Tree{}
	if err := tr.Insert(&tree.Node{Name: file, Type: tree.TypeFile, Content: []id.ID{}}); err != nil {
		t.Fatal(err)
	}
	for i, sub := range subs {
		sub := sub
		if err := tr.Insert(&tree.Node{Name: string(rune('a' + i)), Type: tree.TypeDir, Subtree: &sub}); err != nil {
			t.Fatal(err)
		}
	}
	tid, err := recovery.SaveTree(context.Background(), s, tr)
	if err != nil {
		t.Fatal(err)
	}
	return tid
}

func sortIDs(ids []id.ID) []id.ID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b id.ID) int { return compare(a, b) })
	return ids
}

func compare(a, b id.ID) int {
	return slices.Compare(a[:], b[:])
}

func TestRoots(t *testing.T) {
	ctx := context.Background()
	s := newStore()
	leaf := s.dir(t, "leaf")
	mid := s.dir(t, "mid", leaf)
	top := s.dir(t, "top", mid) // a snapshot's tree
	lost := s.dir(t, "lost", leaf)
	other := s.dir(t, "other")
	s.blobs[blob.Handle{ID: id.Hash([]byte("data")), Type: blob.Data}] = []byte("data")

	trees := recovery.TreeIDs(s)
	if want := sortIDs([]id.ID{leaf, mid, top, lost, other}); !slices.Equal(trees, want) {
		t.Fatalf("TreeIDs = %v, want the five trees sorted %v", trees, want)
	}
	loaded := 0
	roots, err := recovery.Roots(ctx, s, trees, recovery.Report{Loaded: func(n int) { loaded = n }})
	if err != nil {
		t.Fatal(err)
	}
	if want := sortIDs([]id.ID{top, lost, other}); !slices.Equal(roots, want) {
		t.Errorf("Roots = %v, want %v", roots, want)
	}
	if loaded != len(trees) {
		t.Errorf("Loaded reported %d, want %d", loaded, len(trees))
	}
	roots = recovery.WithoutSnapshotTrees(roots, []id.ID{top})
	if want := sortIDs([]id.ID{lost, other}); !slices.Equal(roots, want) {
		t.Errorf("WithoutSnapshotTrees = %v, want %v", roots, want)
	}
}

// TestRootsUnreadableTree: a tree that cannot be loaded is reported and
// skipped; what only it referred to becomes a root.
func TestRootsUnreadableTree(t *testing.T) {
	s := newStore()
	leaf := s.dir(t, "leaf")
	broken := s.dir(t, "broken", leaf)
	s.blobs[blob.Handle{ID: broken, Type: blob.Tree}] = []byte("not json")
	var bad []id.ID
	roots, err := recovery.Roots(context.Background(), s, recovery.TreeIDs(s), recovery.Report{
		TreeError: func(tid id.ID, err error) { bad = append(bad, tid) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bad, []id.ID{broken}) {
		t.Errorf("reported %v, want %v", bad, broken)
	}
	if want := sortIDs([]id.ID{leaf, broken}); !slices.Equal(roots, want) {
		t.Errorf("Roots = %v, want %v", roots, want)
	}
}

func TestRootsCancelled(t *testing.T) {
	s := newStore()
	s.dir(t, "x")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := recovery.Roots(ctx, s, recovery.TreeIDs(s), recovery.Report{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestRootTree(t *testing.T) {
	a := id.Hash([]byte("a"))
	b := a
	b[31] ^= 1 // same short ID as a
	c := id.Hash([]byte("c"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tr, err := recovery.RootTree(sortIDs([]id.ID{a, b, c}), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]id.ID{}
	for _, n := range tr.Nodes {
		if n.Type != tree.TypeDir || n.Mode != 0o755 || n.Subtree == nil || !n.ModTime.Equal(now) || !n.AccessTime.Equal(now) || !n.ChangeTime.Equal(now) || n.UID != 0 || n.Content != nil {
			t.Errorf("node %+v: want a dir, mode 0755, times now", n)
		}
		if n.Subtree != nil {
			names[n.Name] = *n.Subtree
		}
	}
	first, second := sortIDs([]id.ID{a, b})[0], sortIDs([]id.ID{a, b})[1]
	want := map[string]id.ID{a.Str(): first, second.String(): second, c.Str(): c}
	if len(names) != 3 || names[a.Str()] != want[a.Str()] || names[second.String()] != second || names[c.Str()] != c {
		t.Errorf("nodes %v, want %v", names, want)
	}
	for i := 1; i < len(tr.Nodes); i++ {
		if tr.Nodes[i-1].Name >= tr.Nodes[i].Name {
			t.Errorf("nodes not sorted: %q before %q", tr.Nodes[i-1].Name, tr.Nodes[i].Name)
		}
	}
	if _, err := tr.Encode(nil); err != nil {
		t.Fatal(err)
	}
}
