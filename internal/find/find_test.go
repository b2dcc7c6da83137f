package find_test

import (
	"slices"
	"testing"

	"github.com/cairn-backup/cairn/internal/find"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker/walkertest"
)

func TestNamesAndIDs(t *testing.T) {
	r := walkertest.New()
	src := r.Dir("src", r.File("main.go", "package main"), r.File("README", "hi"))
	root := r.Tree(src, r.File("top.go", "x"))

	pats, err := find.Patterns([]string{"!*.GO"}, true)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	err = find.Names(t.Context(), r, root, pats, func(p string, _ *tree.Node) error {
		names = append(names, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/src/main.go", "/top.go"}; !slices.Equal(names, want) {
		t.Errorf("Names = %v, want %v", names, want)
	}
	if _, err := find.Patterns(nil, false); err == nil {
		t.Error("no patterns: no error")
	}

	blobID := r.Data([]byte("hi"))
	var objs []find.Object
	collect := func(o find.Object) error { objs = append(objs, o); return nil }
	if err := find.IDs(t.Context(), r, root, find.NewPrefixes([]string{blobID.String()[:8]}), false, collect); err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Kind != "blob" || objs[0].Path != "/src/README" || objs[0].ID != blobID || objs[0].Parent != *src.Subtree {
		t.Errorf("blob search found %+v", objs)
	}
	objs = nil
	upper := find.NewPrefixes([]string{src.Subtree.String()[:6]})
	if err := find.IDs(t.Context(), r, root, upper, true, collect); err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Kind != "tree" || objs[0].Path != "/src" || objs[0].Parent != root {
		t.Errorf("tree search found %+v", objs)
	}
	if p, ok := find.NewPrefixes([]string{"AB"}).Match(id.ID{0xab}); !ok || p != "ab" {
		t.Errorf("Match = %q, %v", p, ok)
	}
}
