package snapshot

import (
	"slices"
	"strings"
)

// TagList is a set of tags that must all be present, as given to one
// --tag option ("a,b").
type TagList []string

// ParseTagList splits a comma-separated list and trims spaces around each
// tag. Empty elements are dropped, so "" gives an empty list, which selects
// untagged snapshots.
func ParseTagList(s string) TagList {
	var l TagList
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			l = append(l, t)
		}
	}
	return l
}

// String returns l in the form ParseTagList reads.
func (l TagList) String() string { return strings.Join(l, ",") }

// Filter selects snapshots the way restic's --host, --tag and --path
// options do. The zero Filter matches every snapshot.
type Filter struct {
	// Hosts: the snapshot's hostname is one of these (any, if empty).
	Hosts []string
	// Tags: the snapshot matches at least one list (see
	// [Snapshot.HasTags]); any snapshot matches if there are none.
	Tags []TagList
	// Paths: the snapshot's paths include all of these (compared after
	// cleaning); the snapshot may have more.
	Paths []string
}

// Match reports whether s passes all three conditions of f.
func (f Filter) Match(s *Snapshot) bool {
	if len(f.Hosts) > 0 && !slices.Contains(f.Hosts, s.Hostname) {
		return false
	}
	if len(f.Tags) > 0 && !slices.ContainsFunc(f.Tags, s.HasTags) {
		return false
	}
	return s.HasPaths(f.Paths)
}
