package forget

import (
	"fmt"
	"strings"

	"github.com/cairn-backup/cairn/internal/snapshot"
)

// Policy is a set of retention rules (the --keep-* options). The zero
// Policy is empty: it keeps everything.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly Count

	// Within keeps every snapshot newer than this span before the latest.
	Within Duration
	// The WithinX rules keep one snapshot per calendar period among those
	// newer than the span before the latest.
	WithinHourly, WithinDaily, WithinWeekly, WithinMonthly, WithinYearly Duration

	// Tags keeps every snapshot that has all tags of at least one list.
	Tags []snapshot.TagList
}

// Empty reports whether p has no rule at all. Applying an empty policy
// keeps every snapshot (restic refuses to act on one).
func (p Policy) Empty() bool {
	return len(p.Tags) == 0 &&
		p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 &&
		p.Within.Zero() && p.WithinHourly.Zero() && p.WithinDaily.Zero() && p.WithinWeekly.Zero() &&
		p.WithinMonthly.Zero() && p.WithinYearly.Zero()
}

// formatTags writes a tag list the way restic prints one: "[a, b]".
func formatTags(l snapshot.TagList) string { return "[" + strings.Join(l, ", ") + "]" }

// String describes p in restic's words, e.g. "keep 3 daily, 2 weekly
// snapshots and all snapshots within 1y of the newest".
func (p Policy) String() string {
	var counts []string
	for _, r := range []struct {
		n    Count
		name string
	}{
		{p.Last, "latest"}, {p.Hourly, "hourly"}, {p.Daily, "daily"},
		{p.Weekly, "weekly"}, {p.Monthly, "monthly"}, {p.Yearly, "yearly"},
	} {
		switch {
		case r.n > 0:
			counts = append(counts, fmt.Sprintf("%d %s", r.n, r.name))
		case r.n == Unlimited:
			counts = append(counts, "all "+r.name)
		}
	}
	var withins []string
	for _, r := range []struct {
		d    Duration
		name string
	}{
		{p.WithinHourly, "hourly"}, {p.WithinDaily, "daily"}, {p.WithinWeekly, "weekly"},
		{p.WithinMonthly, "monthly"}, {p.WithinYearly, "yearly"},
	} {
		if !r.d.Zero() {
			withins = append(withins, fmt.Sprintf("%s snapshots within %v", r.name, r.d))
		}
	}
	s := ""
	if len(counts) > 0 {
		s = strings.Join(counts, ", ") + " snapshots"
	}
	if len(withins) > 0 {
		if s != "" {
			s += ", "
		}
		s += strings.Join(withins, ", ")
	}
	if len(p.Tags) > 0 {
		if s != "" {
			s += " and "
		}
		lists := make([]string, len(p.Tags))
		for i, l := range p.Tags {
			lists[i] = formatTags(l)
		}
		s += "all snapshots with tags [" + strings.Join(lists, " ") + "]"
	}
	if !p.Within.Zero() {
		if s != "" {
			s += " and "
		}
		s += fmt.Sprintf("all snapshots within %v of the newest", p.Within)
	}
	return "keep " + s
}
