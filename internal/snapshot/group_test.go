package snapshot_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// numbered gives each snapshot a distinct ID whose short form is its
// position, "00000000", "01000000", ...
func numbered(snaps ...*snapshot.Snapshot) []*snapshot.Snapshot {
	for i, s := range snaps {
		s.ID = id.ID{byte(i)}
	}
	return snaps
}

func TestGroupBy(t *testing.T) {
	snaps := numbered(
		snap(5, "h1", []string{"/b", "/a"}, "x"),
		snap(1, "h2", []string{"/a"}),
		snap(2, "h1", []string{"/a", "/b"}, "y", "x"),
		snap(3, "h1", []string{"/a"}, "x"),
		snap(4, "h2", []string{"/a"}, "x"),
	)
	type group struct {
		Key snapshot.GroupKey
		IDs []string
	}
	tests := []struct {
		by   string
		want []group
	}{
		{"", []group{{snapshot.GroupKey{}, []string{"01000000", "02000000", "03000000", "04000000", "00000000"}}}},
		{"host", []group{
			{snapshot.GroupKey{Hostname: "h1"}, []string{"02000000", "03000000", "00000000"}},
			{snapshot.GroupKey{Hostname: "h2"}, []string{"01000000", "04000000"}},
		}},
		{"host,paths", []group{
			{snapshot.GroupKey{Hostname: "h1", Paths: []string{"/a"}}, []string{"03000000"}},
			{snapshot.GroupKey{Hostname: "h1", Paths: []string{"/a", "/b"}}, []string{"02000000", "00000000"}},
			{snapshot.GroupKey{Hostname: "h2", Paths: []string{"/a"}}, []string{"01000000", "04000000"}},
		}},
		{"tags", []group{
			{snapshot.GroupKey{}, []string{"01000000"}},
			{snapshot.GroupKey{Tags: []string{"x"}}, []string{"03000000", "04000000", "00000000"}},
			{snapshot.GroupKey{Tags: []string{"x", "y"}}, []string{"02000000"}},
		}},
		{"paths, tag,host", []group{
			{snapshot.GroupKey{Hostname: "h1", Paths: []string{"/a"}, Tags: []string{"x"}}, []string{"03000000"}},
			{snapshot.GroupKey{Hostname: "h1", Paths: []string{"/a", "/b"}, Tags: []string{"x"}}, []string{"00000000"}},
			{snapshot.GroupKey{Hostname: "h1", Paths: []string{"/a", "/b"}, Tags: []string{"x", "y"}}, []string{"02000000"}},
			{snapshot.GroupKey{Hostname: "h2", Paths: []string{"/a"}}, []string{"01000000"}},
			{snapshot.GroupKey{Hostname: "h2", Paths: []string{"/a"}, Tags: []string{"x"}}, []string{"04000000"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.by, func(t *testing.T) {
			groups, err := snapshot.GroupBy(snaps, tt.by)
			if err != nil {
				t.Fatal(err)
			}
			var got []group
			for _, g := range groups {
				got = append(got, group{g.Key, ids(g.Snapshots)})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GroupBy(%q) (-want +got):\n%s", tt.by, diff)
			}
		})
	}
	if _, err := snapshot.GroupBy(snaps, "host,user"); err == nil {
		t.Error("GroupBy with an unknown criterion: no error")
	}
	if snaps[0].Paths[0] != "/b" {
		t.Error("GroupBy reordered a snapshot's paths")
	}
}

func TestLatest(t *testing.T) {
	snaps := numbered(snap(3, "h", nil), snap(1, "h", nil), snap(2, "h", nil))
	tests := []struct {
		n    int
		want []string
	}{
		{0, []string{}},
		{-1, []string{}},
		{1, []string{"00000000"}},
		{2, []string{"02000000", "00000000"}},
		{5, []string{"01000000", "02000000", "00000000"}},
	}
	for _, tt := range tests {
		if got := ids(snapshot.Latest(snaps, tt.n)); !cmp.Equal(got, tt.want) {
			t.Errorf("Latest(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	if snaps[0].ID.Str() != "00000000" {
		t.Error("Latest reordered its input")
	}
}

func TestFindParent(t *testing.T) {
	snaps := numbered(
		snap(1, "h1", []string{"/a"}),                    // 00
		snap(2, "h1", []string{"/a", "/b"}, "tagged"),    // 01
		snap(3, "h2", []string{"/a"}),                    // 02
		snap(4, "h1", []string{"/b"}),                    // 03
		snap(5, "h1", []string{"/a"}),                    // 04
		snap(5, "h1", []string{"/a"}),                    // 05: same time as 04, greater ID
		snap(9, "h1", []string{"/c", "/a", "/b"}, "new"), // 06
	)
	tests := []struct {
		name   string
		host   string
		paths  []string
		before int
		want   string // "" for none
	}{
		{"newest same host and paths", "h1", []string{"/a"}, 6, "05000000"},
		{"equal time counts", "h1", []string{"/a"}, 5, "05000000"},
		{"later snapshots ignored", "h1", []string{"/a"}, 4, "01000000"},
		{"superset of paths qualifies, tags ignored", "h1", []string{"/b", "/a"}, 8, "01000000"},
		{"superset at a later time", "h1", []string{"/a"}, 10, "06000000"},
		{"subset of paths does not", "h1", []string{"/a", "/c", "/d"}, 10, ""},
		{"other host", "h2", []string{"/a"}, 10, "02000000"},
		{"unknown host", "h3", []string{"/a"}, 10, ""},
		{"too early", "h1", []string{"/a"}, 0, ""},
		{"unclean path", "h1", []string{"/b/"}, 4, "03000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := snapshot.FindParent(snaps, tt.host, tt.paths, at(tt.before))
			var gotID string
			if got != nil {
				gotID = got.ID.Str()
			}
			if gotID != tt.want {
				t.Errorf("FindParent(%s, %v, minute %d) = %q, want %q", tt.host, tt.paths, tt.before, gotID, tt.want)
			}
		})
	}
}
