package forget

import (
	"time"

	"github.com/cairn-backup/cairn/internal/snapshot"
)

// GroupResult is the outcome of a policy for one group of snapshots.
type GroupResult struct {
	Key snapshot.GroupKey
	Result
}

// ApplyGroups splits snaps into groups by g and applies p to each group,
// in the order of the groups, with now as the current time.
func ApplyGroups(snaps []*snapshot.Snapshot, g snapshot.Grouping, p Policy, now time.Time) []GroupResult {
	var out []GroupResult
	for _, grp := range g.Group(snaps) {
		out = append(out, GroupResult{Key: grp.Key, Result: Apply(grp.Snapshots, p, now)})
	}
	return out
}
