package snapshot_test

import (
	"slices"
	"testing"

	"github.com/cairn-backup/cairn/internal/snapshot"
)

func TestSelect(t *testing.T) {
	r := newMemRepo()
	r.put(t, "aa", snap(1, "h1", []string{"/a"}))
	r.put(t, "bb", snap(2, "h2", []string{"/a"}))
	r.put(t, "cc", snap(3, "h1", []string{"/a"}))
	for _, tt := range []struct {
		refs []string
		f    snapshot.Filter
		want []string
	}{
		{nil, snapshot.Filter{}, []string{"aa000000", "bb000000", "cc000000"}},
		{nil, snapshot.Filter{Hosts: []string{"h1"}}, []string{"aa000000", "cc000000"}},
		{[]string{"cc", "aa", "cc"}, snapshot.Filter{}, []string{"cc000000", "aa000000"}},
		{[]string{"latest"}, snapshot.Filter{Hosts: []string{"h2"}}, []string{"bb000000"}},
	} {
		got, err := snapshot.Select(t.Context(), r, tt.refs, tt.f, nil)
		if err != nil {
			t.Fatalf("Select(%v): %v", tt.refs, err)
		}
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("Select(%v, %+v) = %v, want %v", tt.refs, tt.f, ids(got), tt.want)
		}
	}
	if _, err := snapshot.Select(t.Context(), r, []string{"dd"}, snapshot.Filter{}, nil); err == nil {
		t.Error("Select of an unknown ID: no error")
	}
}

func TestParseGrouping(t *testing.T) {
	for by, want := range map[string]snapshot.Grouping{
		"":             {},
		"host,paths":   {Host: true, Paths: true},
		" tag , hosts": {Host: true, Tags: true},
		"path":         {Paths: true},
	} {
		got, err := snapshot.ParseGrouping(by)
		if err != nil || got != want {
			t.Errorf("ParseGrouping(%q) = %+v, %v, want %+v", by, got, err, want)
		}
	}
	if _, err := snapshot.ParseGrouping("host,user"); err == nil {
		t.Error("unknown criterion: no error")
	}
}
