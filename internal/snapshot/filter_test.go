package snapshot_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/snapshot"
)

func TestParseTagList(t *testing.T) {
	tests := []struct {
		in   string
		want snapshot.TagList
	}{
		{"", nil},
		{"a", snapshot.TagList{"a"}},
		{"a,b", snapshot.TagList{"a", "b"}},
		{" a , b ,", snapshot.TagList{"a", "b"}},
		{",", nil},
	}
	for _, tt := range tests {
		if got := snapshot.ParseTagList(tt.in); !cmp.Equal(got, tt.want) {
			t.Errorf("ParseTagList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	s := snap(0, "h1", []string{"/home", "/etc"}, "daily", "work")
	untagged := snap(0, "h1", []string{"/home"})
	tl := snapshot.ParseTagList
	tests := []struct {
		name string
		f    snapshot.Filter
		s    *snapshot.Snapshot
		want bool
	}{
		{"zero filter", snapshot.Filter{}, s, true},
		{"host", snapshot.Filter{Hosts: []string{"h1"}}, s, true},
		{"any of hosts", snapshot.Filter{Hosts: []string{"h2", "h1"}}, s, true},
		{"other host", snapshot.Filter{Hosts: []string{"h2"}}, s, false},
		{"one tag", snapshot.Filter{Tags: []snapshot.TagList{tl("work")}}, s, true},
		{"both tags", snapshot.Filter{Tags: []snapshot.TagList{tl("work,daily")}}, s, true},
		{"tag list needs all", snapshot.Filter{Tags: []snapshot.TagList{tl("work,weekly")}}, s, false},
		{"tag lists are or'ed", snapshot.Filter{Tags: []snapshot.TagList{tl("weekly"), tl("daily")}}, s, true},
		{"no tag list matches", snapshot.Filter{Tags: []snapshot.TagList{tl("weekly"), tl("x,daily")}}, s, false},
		{"empty tag list: untagged only", snapshot.Filter{Tags: []snapshot.TagList{tl("")}}, untagged, true},
		{"empty tag list rejects tagged", snapshot.Filter{Tags: []snapshot.TagList{tl("")}}, s, false},
		{"untagged or daily", snapshot.Filter{Tags: []snapshot.TagList{tl(""), tl("daily")}}, s, true},
		{"tagged filter on untagged", snapshot.Filter{Tags: []snapshot.TagList{tl("daily")}}, untagged, false},
		{"one path", snapshot.Filter{Paths: []string{"/etc"}}, s, true},
		{"all paths", snapshot.Filter{Paths: []string{"/etc", "/home"}}, s, true},
		{"path cleaned", snapshot.Filter{Paths: []string{"/home/"}}, s, true},
		{"missing path", snapshot.Filter{Paths: []string{"/etc", "/srv"}}, s, false},
		{"parent dir is not a path", snapshot.Filter{Paths: []string{"/"}}, s, false},
		{"all conditions", snapshot.Filter{Hosts: []string{"h1"}, Tags: []snapshot.TagList{tl("work")}, Paths: []string{"/etc"}}, s, true},
		{"one condition fails", snapshot.Filter{Hosts: []string{"h1"}, Tags: []snapshot.TagList{tl("work")}, Paths: []string{"/srv"}}, s, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(tt.s); got != tt.want {
				t.Errorf("%+v.Match(%v %v %v) = %v, want %v", tt.f, tt.s.Hostname, tt.s.Paths, tt.s.Tags, got, tt.want)
			}
		})
	}
}
