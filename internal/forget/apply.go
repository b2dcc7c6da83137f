package forget

import (
	"bytes"
	"slices"
	"time"

	"github.com/cairn-backup/cairn/internal/snapshot"
)

// Reason says why a snapshot is kept: the rules that selected it, in
// restic's words ("daily snapshot", "within 1y", "has tags [a]"), and how
// much of each counted rule was left after it.
type Reason struct {
	Snapshot *snapshot.Snapshot
	Matches  []string
	// Counters holds, per counted rule, the buckets still to fill after
	// this snapshot (-1: unlimited; 0: used up or not set).
	Counters Counters
}

// Counters are the remaining counts of the --keep-<n> rules.
type Counters struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
}

// Result is the outcome of applying a policy to one group.
type Result struct {
	// Keep and Remove are ordered newest first.
	Keep, Remove []*snapshot.Snapshot
	// Reasons has one entry per kept snapshot, in the order of Keep.
	Reasons []Reason
}

// bucketFunc maps a snapshot (its time, and its position in the newest
// first order) to the bucket it falls in.
type bucketFunc func(t time.Time, pos int) int

func byPosition(_ time.Time, pos int) int { return pos }
func byHour(t time.Time, _ int) int {
	return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour()
}
func byDay(t time.Time, _ int) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }
func byWeek(t time.Time, _ int) int {
	y, w := t.ISOWeek()
	return y*100 + w
}
func byMonth(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }
func byYear(t time.Time, _ int) int  { return t.Year() }

// countRule is the state of one --keep-<period> n rule during a pass.
type countRule struct {
	left   Count
	bucket bucketFunc
	reason string
	seen   bool // a bucket has been taken; last is valid
	last   int
}

// withinRule is the state of one --keep-within-<period> rule.
type withinRule struct {
	span   Duration
	bucket bucketFunc
	reason string
	seen   bool
	last   int
}

// Apply splits snaps (one group) into the snapshots p keeps and those it
// removes. now is the current time: snapshots after it are not taken as
// the latest one that the within rules measure from. An empty policy
// keeps every snapshot with the reason "policy is empty".
func Apply(snaps []*snapshot.Snapshot, p Policy, now time.Time) Result {
	list := slices.Clone(snaps)
	slices.SortStableFunc(list, func(a, b *snapshot.Snapshot) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	var res Result
	if p.Empty() {
		for _, s := range list {
			res.Keep = append(res.Keep, s)
			res.Reasons = append(res.Reasons, Reason{Snapshot: s, Matches: []string{"policy is empty"}})
		}
		return res
	}
	if len(list) == 0 {
		return res
	}

	counted := []*countRule{
		{left: p.Last, bucket: byPosition, reason: "last snapshot"},
		{left: p.Hourly, bucket: byHour, reason: "hourly snapshot"},
		{left: p.Daily, bucket: byDay, reason: "daily snapshot"},
		{left: p.Weekly, bucket: byWeek, reason: "weekly snapshot"},
		{left: p.Monthly, bucket: byMonth, reason: "monthly snapshot"},
		{left: p.Yearly, bucket: byYear, reason: "yearly snapshot"},
	}
	withins := []*withinRule{
		{span: p.WithinHourly, bucket: byHour, reason: "hourly within"},
		{span: p.WithinDaily, bucket: byDay, reason: "daily within"},
		{span: p.WithinWeekly, bucket: byWeek, reason: "weekly within"},
		{span: p.WithinMonthly, bucket: byMonth, reason: "monthly within"},
		{span: p.WithinYearly, bucket: byYear, reason: "yearly within"},
	}
	latest := latestNotAfter(list, now)

	for pos, s := range list {
		var matches []string
		for _, l := range p.Tags {
			if s.HasTags(l) {
				matches = append(matches, "has tags "+formatTags(l))
			}
		}
		if !p.Within.Zero() && s.Time.After(p.Within.Before(latest)) {
			matches = append(matches, "within "+p.Within.String())
		}
		for _, r := range counted {
			if r.left == 0 {
				continue
			}
			b := r.bucket(s.Time, pos)
			if r.seen && b == r.last {
				continue
			}
			r.seen, r.last = true, b
			if r.left > 0 {
				r.left--
			}
			matches = append(matches, r.reason)
		}
		for _, r := range withins {
			if r.span.Zero() || !s.Time.After(r.span.Before(latest)) {
				continue
			}
			b := r.bucket(s.Time, pos)
			if r.seen && b == r.last {
				continue
			}
			r.seen, r.last = true, b
			matches = append(matches, r.reason+" "+r.span.String())
		}
		if len(matches) == 0 {
			res.Remove = append(res.Remove, s)
			continue
		}
		res.Keep = append(res.Keep, s)
		res.Reasons = append(res.Reasons, Reason{Snapshot: s, Matches: matches, Counters: Counters{
			Last: int(counted[0].left), Hourly: int(counted[1].left), Daily: int(counted[2].left),
			Weekly: int(counted[3].left), Monthly: int(counted[4].left), Yearly: int(counted[5].left),
		}})
	}
	return res
}

// latestNotAfter returns the time of the newest snapshot not after now, or
// the zero time if every snapshot is in the future.
func latestNotAfter(list []*snapshot.Snapshot, now time.Time) time.Time {
	var latest time.Time
	for _, s := range list {
		if s.Time.After(latest) && s.Time.Before(now) {
			latest = s.Time
		}
	}
	return latest
}
