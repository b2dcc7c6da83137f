package walker_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
	"github.com/cairn-backup/cairn/internal/walker/walkertest"
	"github.com/google/go-cmp/cmp"
)

// sample stores /a/{x,y}, /b (a copy of a), /c/deep/z and /link, and
// returns the root tree.
func sample(r *walkertest.Repo) id.ID {
	a := r.Dir("a", r.File("x", "1"), r.File("y", "2"))
	b := *a
	b.Name = "b"
	link := &tree.Node{Name: "link", Type: tree.TypeSymlink, LinkTarget: "a/x"}
	return r.Tree(a, &b, r.Dir("c", r.Dir("deep", r.File("z", "3"))), link)
}

func TestWalk(t *testing.T) {
	r := walkertest.New()
	root := sample(r)
	tests := []struct {
		name string
		opts walker.Options
		// ret decides what the Func returns for a path.
		ret  func(p string) error
		want []string
	}{
		{
			name: "everything",
			want: []string{"/a", "/a/x", "/a/y", "/b", "/b/x", "/b/y", "/c", "/c/deep", "/c/deep/z", "/link"},
		},
		{
			name: "prefix",
			opts: walker.Options{Prefix: "/snap/root"},
			ret: func(p string) error {
				if p == "/snap/root/c" {
					return walker.SkipDir
				}
				return nil
			},
			want: []string{"/snap/root/a", "/snap/root/a/x", "/snap/root/a/y", "/snap/root/b", "/snap/root/b/x", "/snap/root/b/y", "/snap/root/c", "/snap/root/link"},
		},
		{
			name: "skip dir",
			ret: func(p string) error {
				if p == "/a" || p == "/c" {
					return walker.SkipDir
				}
				return nil
			},
			want: []string{"/a", "/b", "/b/x", "/b/y", "/c", "/link"},
		},
		{
			name: "skip rest of dir from a file",
			ret: func(p string) error {
				if p == "/a/x" {
					return walker.SkipDir
				}
				return nil
			},
			want: []string{"/a", "/a/x", "/b", "/b/x", "/b/y", "/c", "/c/deep", "/c/deep/z", "/link"},
		},
		{
			name: "skip all",
			ret: func(p string) error {
				if p == "/b/x" {
					return walker.SkipAll
				}
				return nil
			},
			want: []string{"/a", "/a/x", "/a/y", "/b", "/b/x"},
		},
		{
			name: "seen trees are walked once",
			opts: walker.Options{Seen: id.NewSet()},
			want: []string{"/a", "/a/x", "/a/y", "/c", "/c/deep", "/c/deep/z", "/link"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := walker.Walk(t.Context(), r, root, tc.opts, func(p string, n *tree.Node, parent id.ID) error {
				got = append(got, p)
				if tc.ret != nil {
					return tc.ret(p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Walk visited (-want +got):\n%s", d)
			}
		})
	}
}

func TestWalkParentAndSeenAcrossWalks(t *testing.T) {
	r := walkertest.New()
	root := sample(r)
	seen := id.NewSet()
	parents := map[string]id.ID{}
	err := walker.Walk(t.Context(), r, root, walker.Options{Seen: seen}, func(p string, n *tree.Node, parent id.ID) error {
		parents[p] = parent
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if parents["/a"] != root || parents["/a/x"] == root || parents["/a/x"] != parents["/a/y"] {
		t.Errorf("parent trees: %v", parents)
	}
	if len(seen) != 4 { // root, a (= b), c, deep
		t.Errorf("seen has %d trees, want 4", len(seen))
	}
	loads := r.Loads()
	calls := 0
	err = walker.Walk(t.Context(), r, root, walker.Options{Seen: seen}, func(string, *tree.Node, id.ID) error {
		calls++
		return nil
	})
	if err != nil || calls != 0 || r.Loads() != loads {
		t.Errorf("second walk with the same seen set: err %v, %d calls, %d loads", err, calls, r.Loads()-loads)
	}
}

func TestWalkErrors(t *testing.T) {
	r := walkertest.New()
	missing := id.Hash([]byte("missing"))
	root := r.Tree(&tree.Node{Name: "gone", Type: tree.TypeDir, Subtree: &missing})
	err := walker.Walk(t.Context(), r, root, walker.Options{}, func(string, *tree.Node, id.ID) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "/gone") {
		t.Errorf("Walk with a missing subtree = %v, want an error naming /gone", err)
	}

	noSub := r.Tree(&tree.Node{Name: "d", Type: tree.TypeDir})
	err = walker.Walk(t.Context(), r, noSub, walker.Options{}, func(string, *tree.Node, id.ID) error { return nil })
	if !errors.Is(err, tree.ErrInvalidData) {
		t.Errorf("Walk of a dir without subtree = %v, want ErrInvalidData", err)
	}

	boom := errors.New("boom")
	err = walker.Walk(t.Context(), r, sample(r), walker.Options{}, func(string, *tree.Node, id.ID) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Walk = %v, want the Func's error", err)
	}
}
