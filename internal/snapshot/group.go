package snapshot

import (
	"bytes"
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// GroupKey is what the snapshots of a [Group] have in common. Fields not
// grouped by are empty; Paths and Tags are sorted.
type GroupKey struct {
	Hostname string   `json:"hostname"`
	Paths    []string `json:"paths"`
	Tags     []string `json:"tags"`
}

// Group is a set of snapshots with equal [GroupKey], oldest first.
type Group struct {
	Key       GroupKey
	Snapshots []*Snapshot
}

// Grouping is a parsed --group-by value: the criteria snapshots are
// grouped by. The zero value puts every snapshot into one group.
type Grouping struct {
	Host, Paths, Tags bool
}

// ParseGrouping parses the comma-separated criteria in by: "host",
// "paths" and "tags" (singular forms accepted), any subset in any order;
// "" means no grouping. Unknown criteria are an error.
func ParseGrouping(by string) (Grouping, error) {
	var g Grouping
	for opt := range strings.SplitSeq(by, ",") {
		switch strings.TrimSpace(opt) {
		case "host", "hosts":
			g.Host = true
		case "path", "paths":
			g.Paths = true
		case "tag", "tags":
			g.Tags = true
		case "":
		default:
			return Grouping{}, fmt.Errorf("group by %q: unknown criterion %q", by, opt)
		}
	}
	return g, nil
}

// Any reports whether g groups by anything.
func (g Grouping) Any() bool { return g.Host || g.Paths || g.Tags }

// GroupBy splits snaps into groups by the criteria in by, as
// [ParseGrouping] reads them; see [Grouping.Group].
func GroupBy(snaps []*Snapshot, by string) ([]Group, error) {
	g, err := ParseGrouping(by)
	if err != nil {
		return nil, err
	}
	return g.Group(snaps), nil
}

// Group splits snaps into groups. Without criteria every snapshot goes
// into one group with an empty key. Two snapshots group together by paths
// (or tags) if their sets of paths (tags) are equal, whatever their order.
// Groups are ordered by key, snapshots in a group by time.
func (g Grouping) Group(snaps []*Snapshot) []Group {
	var groups []Group
	index := map[string]int{} // encoded key → position in groups
	for _, s := range snaps {
		var k GroupKey
		if g.Host {
			k.Hostname = s.Hostname
		}
		if g.Paths {
			k.Paths = sorted(s.Paths)
		}
		if g.Tags {
			k.Tags = sorted(s.Tags)
		}
		enc := encodeKey(k)
		i, ok := index[enc]
		if !ok {
			i = len(groups)
			index[enc] = i
			groups = append(groups, Group{Key: k})
		}
		groups[i].Snapshots = append(groups[i].Snapshots, s)
	}
	slices.SortFunc(groups, func(a, b Group) int {
		return cmp.Or(
			cmp.Compare(a.Key.Hostname, b.Key.Hostname),
			slices.Compare(a.Key.Paths, b.Key.Paths),
			slices.Compare(a.Key.Tags, b.Key.Tags),
		)
	})
	for _, grp := range groups {
		sortByTime(grp.Snapshots)
	}
	return groups
}

func sorted(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	l = slices.Clone(l)
	slices.Sort(l)
	return l
}

// encodeKey turns k into a map key. NUL cannot occur in hostnames, paths
// or tags that restic writes, so it separates the parts unambiguously.
func encodeKey(k GroupKey) string {
	return k.Hostname + "\x00\x01" + strings.Join(k.Paths, "\x00") + "\x00\x01" + strings.Join(k.Tags, "\x00")
}

// Latest returns the newest n of snaps, oldest first, for --latest n. Apply
// it to each [Group] to get the newest n per group. n <= 0 yields nil.
func Latest(snaps []*Snapshot, n int) []*Snapshot {
	if n <= 0 {
		return nil
	}
	s := slices.Clone(snaps)
	sortByTime(s)
	return s[max(0, len(s)-n):]
}

// FindParent returns the snapshot a backup of paths on hostname, taken at
// before, uses as its parent, or nil: the newest snapshot with that exact
// hostname, taken no later than before, whose paths include all of paths
// (compared cleaned; it may have more, as in restic). Tags are ignored.
// Among snapshots with equal times the one with the greater ID wins.
func FindParent(snaps []*Snapshot, hostname string, paths []string, before time.Time) *Snapshot {
	clean := make([]string, len(paths))
	for i, p := range paths {
		clean[i] = filepath.Clean(p)
	}
	var best *Snapshot
	for _, s := range snaps {
		if s.Hostname != hostname || s.Time.After(before) || !s.HasPaths(clean) {
			continue
		}
		if best == nil || s.Time.After(best.Time) || (s.Time.Equal(best.Time) && bytes.Compare(s.ID[:], best.ID[:]) > 0) {
			best = s
		}
	}
	return best
}
