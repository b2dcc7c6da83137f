package checker

import (
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/google/go-cmp/cmp"
)

func TestCompareBlobs(t *testing.T) {
	loc := func(b byte, off uint32) blob.Blob {
		return blob.Blob{Handle: blob.Handle{ID: id.ID{b}, Type: blob.Data}, Offset: off, Length: 100}
	}
	a, b, c := loc(1, 0), loc(2, 100), loc(3, 200)
	moved := loc(3, 300)
	if d := compareBlobs([]blob.Blob{a, b, c}, []blob.Blob{a, b, c}); len(d) != 0 {
		t.Errorf("equal lists: %q", d)
	}
	d := compareBlobs([]blob.Blob{a, b, moved}, []blob.Blob{a, c})
	want := []string{"data blob " + b.Handle.ID.String() + " (offset 100, length 100) is in the index but not in the pack header",
		"data blob " + moved.Handle.ID.String() + " (offset 300, length 100) is in the index but not in the pack header",
		"data blob " + c.Handle.ID.String() + " (offset 200, length 100) is in the pack header but not in the index"}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("compareBlobs (-want +got):\n%s", diff)
	}

	var many []blob.Blob
	for i := range 20 {
		many = append(many, loc(byte(i), uint32(i)*100))
	}
	d = compareBlobs(many, nil)
	if len(d) != maxDiffs+1 || !strings.Contains(d[maxDiffs], "and 15 more") {
		t.Errorf("20 differences reported as %q", d)
	}
}

// TestWalkStatePaths: a tree reached from several parents is named by the
// first path and attributed to every snapshot that reaches it.
func TestWalkStatePaths(t *testing.T) {
	w := &walkState{trees: map[id.ID]*treeInfo{}, roots: map[id.ID][]id.ID{}}
	root1, root2, home, shared := id.ID{1}, id.ID{2}, id.ID{3}, id.ID{4}
	snap1, snap2, snap3 := id.ID{0xa1}, id.ID{0xa2}, id.ID{0xa3}
	w.reach(root1, id.ID{}, "")
	w.roots[root1] = []id.ID{snap1, snap3}
	w.reach(root2, id.ID{}, "")
	w.roots[root2] = []id.ID{snap2}
	w.reach(home, root1, "home")
	w.reach(shared, home, "docs")
	w.reach(shared, home, "docs-copy") // same parent again: recorded once
	w.reach(shared, root2, "elsewhere")

	if got := w.path(shared); got != "/home/docs" {
		t.Errorf("path = %q, want /home/docs", got)
	}
	if got := w.path(root2); got != "/" {
		t.Errorf("root path = %q, want /", got)
	}
	if got := w.trees[shared].parents; !cmp.Equal(got, []id.ID{home, root2}) {
		t.Errorf("parents = %v", got)
	}
	if got, want := w.snapshots(shared), []id.ID{snap1, snap2, snap3}; !cmp.Equal(got, want) {
		t.Errorf("snapshots = %v, want %v", got, want)
	}
	if got, want := w.snapshots(home), []id.ID{snap1, snap3}; !cmp.Equal(got, want) {
		t.Errorf("snapshots of home = %v, want %v", got, want)
	}
	if got := len(w.queue); got != 4 {
		t.Errorf("queued %d trees, want 4", got)
	}
}
