package diff_test

import (
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/diff"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker/walkertest"
)

// unitSizes says every blob takes 10 bytes.
type unitSizes struct{}

func (unitSizes) Size(blob.Handle) (uint32, bool) { return 10, true }

func TestTrees(t *testing.T) {
	r := walkertest.New()
	shared := r.Dir("shared", r.File("s", "same"))
	before := r.Tree(
		r.File("changed", "old"),
		r.Dir("gone", r.File("x", "x")),
		shared,
		r.File("typechange", "t"),
	)
	link := &tree.Node{Name: "typechange", Type: tree.TypeSymlink, LinkTarget: "changed"}
	after := r.Tree(
		r.File("changed", "new"),
		r.File("new", "n"),
		shared,
		link,
	)
	var got []diff.Change
	st, err := diff.Trees(t.Context(), r, unitSizes{}, before, after, diff.Options{}, func(c diff.Change) error {
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []diff.Change{
		{"M", "/changed"}, {"-", "/gone/"}, {"-", "/gone/x"}, {"+", "/new"}, {"T", "/typechange"},
	}
	if len(got) != len(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d: %v, want %v", i, got[i], want[i])
		}
	}
	if st.ChangedFiles != 1 || st.Added.Files != 1 || st.Removed.Files != 1 || st.Removed.Dirs != 1 {
		t.Errorf("stats %+v", st)
	}
	// Removed: root tree, "old", gone's tree, "x", "t"; added: root tree,
	// "new", "n". The shared directory's blobs count on neither side.
	if st.Removed.DataBlobs != 3 || st.Removed.TreeBlobs != 2 || st.Added.DataBlobs != 2 || st.Added.TreeBlobs != 1 {
		t.Errorf("blob counts %+v", st)
	}
	if st.Added.Bytes != 30 || st.Removed.Bytes != 50 {
		t.Errorf("bytes %+v", st)
	}
}

func TestSameNode(t *testing.T) {
	a := &tree.Node{Name: "f", Type: tree.TypeFile, ExtendedAttributes: []tree.ExtendedAttribute{{Name: "a", Value: []byte("1")}, {Name: "b"}}}
	b := *a
	b.ExtendedAttributes = []tree.ExtendedAttribute{{Name: "b"}, {Name: "a", Value: []byte("1")}}
	if !diff.SameNode(a, &b) {
		t.Error("attributes in another order differ")
	}
	b.UID = 1
	if diff.SameNode(a, &b) {
		t.Error("another UID is the same")
	}
}
