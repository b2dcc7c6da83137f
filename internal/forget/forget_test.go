package forget_test

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/forget"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/google/go-cmp/cmp"
)

// snap makes a snapshot at the given UTC time ("2006-01-02 15:04:05") with
// an ID derived from it.
func snap(t *testing.T, at string, tags ...string) *snapshot.Snapshot {
	t.Helper()
	tm, err := time.Parse(time.DateTime, at)
	if err != nil {
		t.Fatal(err)
	}
	return &snapshot.Snapshot{Time: tm, Tags: tags, ID: sha256.Sum256([]byte(at + strings.Join(tags, ",")))}
}

func times(l []*snapshot.Snapshot) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = s.Time.Format(time.DateTime)
	}
	return out
}

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// resticList is a set of snapshot times taken from restic's policy tests,
// used in the interop runs against restic 0.14 that the expectations
// below come from.
var resticList = []string{
	"2016-01-01 07:08:03", "2016-01-03 07:08:03", "2016-01-04 10:23:03", "2016-01-04 11:23:03",
	"2016-01-04 12:23:03", "2016-01-04 12:24:03", "2016-01-04 12:28:03", "2016-01-04 12:30:03",
	"2016-01-04 16:23:03", "2016-01-05 09:02:03", "2016-01-06 08:02:03", "2016-01-07 10:02:03",
	"2016-01-08 20:02:03", "2016-01-09 21:02:03", "2016-01-12 21:08:03", "2016-01-12 21:12:03",
	"2016-01-18 12:02:03", "2016-01-20 07:08:03",
}

type reason struct {
	Time    string
	Matches []string
}

func TestApply(t *testing.T) {
	var list []*snapshot.Snapshot
	for _, at := range resticList {
		list = append(list, snap(t, at))
	}
	tests := []struct {
		name   string
		policy forget.Policy
		want   []reason // kept, newest first
	}{
		{
			name:   "daily and weekly share the newest snapshot",
			policy: forget.Policy{Daily: 3, Weekly: 2},
			want: []reason{
				{"2016-01-20 07:08:03", []string{"daily snapshot", "weekly snapshot"}},
				{"2016-01-18 12:02:03", []string{"daily snapshot"}},
				{"2016-01-12 21:12:03", []string{"daily snapshot", "weekly snapshot"}},
			},
		},
		{
			name:   "last takes every snapshot as its own bucket",
			policy: forget.Policy{Last: 3},
			want: []reason{
				{"2016-01-20 07:08:03", []string{"last snapshot"}},
				{"2016-01-18 12:02:03", []string{"last snapshot"}},
				{"2016-01-12 21:12:03", []string{"last snapshot"}},
			},
		},
		{
			name:   "hourly keeps the newest of an hour",
			policy: forget.Policy{Hourly: 8},
			want: []reason{
				{"2016-01-20 07:08:03", []string{"hourly snapshot"}},
				{"2016-01-18 12:02:03", []string{"hourly snapshot"}},
				{"2016-01-12 21:12:03", []string{"hourly snapshot"}},
				{"2016-01-09 21:02:03", []string{"hourly snapshot"}},
				{"2016-01-08 20:02:03", []string{"hourly snapshot"}},
				{"2016-01-07 10:02:03", []string{"hourly snapshot"}},
				{"2016-01-06 08:02:03", []string{"hourly snapshot"}},
				{"2016-01-05 09:02:03", []string{"hourly snapshot"}},
			},
		},
		{
			name:   "monthly keeps only the newest when the month has several (no oldest fallback in restic 0.14)",
			policy: forget.Policy{Monthly: 5},
			want:   []reason{{"2016-01-20 07:08:03", []string{"monthly snapshot"}}},
		},
		{
			name:   "within and daily within",
			policy: forget.Policy{Within: forget.Duration{Days: 8}, WithinDaily: forget.Duration{Days: 2}},
			want: []reason{
				{"2016-01-20 07:08:03", []string{"within 8d", "daily within 2d"}},
				{"2016-01-18 12:02:03", []string{"within 8d", "daily within 2d"}},
				{"2016-01-12 21:12:03", []string{"within 8d"}},
				{"2016-01-12 21:08:03", []string{"within 8d"}},
			},
		},
		{
			name:   "weekly unlimited: one per ISO week (Monday to Sunday)",
			policy: forget.Policy{Weekly: forget.Unlimited},
			want: []reason{
				{"2016-01-20 07:08:03", []string{"weekly snapshot"}},
				{"2016-01-12 21:12:03", []string{"weekly snapshot"}},
				{"2016-01-09 21:02:03", []string{"weekly snapshot"}}, // Saturday of week 1
				{"2016-01-03 07:08:03", []string{"weekly snapshot"}}, // Sunday: ISO week 53 of 2015
			},
		},
		{
			name:   "yearly and weekly within",
			policy: forget.Policy{Yearly: 1, WithinWeekly: forget.Duration{Days: 10}},
			want: []reason{
				{"2016-01-20 07:08:03", []string{"yearly snapshot", "weekly within 10d"}},
				{"2016-01-12 21:12:03", []string{"weekly within 10d"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := forget.Apply(list, tc.policy, now)
			var got []reason
			for _, r := range res.Reasons {
				got = append(got, reason{r.Snapshot.Time.Format(time.DateTime), r.Matches})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Apply(%v) kept (-want +got):\n%s", tc.policy, diff)
			}
			if len(res.Keep)+len(res.Remove) != len(list) || len(res.Keep) != len(res.Reasons) {
				t.Errorf("Apply(%v): %d kept, %d removed, %d reasons of %d", tc.policy, len(res.Keep), len(res.Remove), len(res.Reasons), len(list))
			}
		})
	}
}

// TestDocSundays is the first example of restic's forget documentation:
// twelve weekly backups and --keep-daily 4.
func TestDocSundays(t *testing.T) {
	var list []*snapshot.Snapshot
	for d := time.Date(2019, 9, 1, 11, 0, 0, 0, time.UTC); !d.After(time.Date(2019, 11, 17, 11, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 7) {
		list = append(list, &snapshot.Snapshot{Time: d, ID: sha256.Sum256([]byte(d.String()))})
	}
	res := forget.Apply(list, forget.Policy{Daily: 4}, now)
	want := []string{"2019-11-17 11:00:00", "2019-11-10 11:00:00", "2019-11-03 11:00:00", "2019-10-27 11:00:00"}
	if diff := cmp.Diff(want, times(res.Keep)); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	if len(res.Remove) != 8 {
		t.Errorf("removed %d, want 8", len(res.Remove))
	}
}

// hundredYears is one snapshot a day at noon for a hundred years, up to
// Sunday 2019-11-17: the second example of restic's documentation.
func hundredYears() []*snapshot.Snapshot {
	end := time.Date(2019, 11, 17, 12, 0, 0, 0, time.UTC)
	var list []*snapshot.Snapshot
	for d := end.AddDate(-100, 0, 1); !d.After(end); d = d.AddDate(0, 0, 1) {
		s := &snapshot.Snapshot{Time: d}
		copy(s.ID[:], fmt.Sprint(d.Unix()))
		list = append(list, s)
	}
	return list
}

func countReasons(res forget.Result) map[string]int {
	n := map[string]int{}
	for _, r := range res.Reasons {
		for _, m := range r.Matches {
			n[m]++
		}
	}
	return n
}

// TestDocHundredYears: --keep-daily 7 --keep-weekly 5 --keep-monthly 12
// --keep-yearly 75 keeps 7 dailies, 4 more weeklies (the newest is both),
// 11 more month ends (October 31 is no Sunday) and 73 more year ends
// (2018-12-31 is also a month end): 95 snapshots.
func TestDocHundredYears(t *testing.T) {
	res := forget.Apply(hundredYears(), forget.Policy{Daily: 7, Weekly: 5, Monthly: 12, Yearly: 75}, now)
	want := map[string]int{"daily snapshot": 7, "weekly snapshot": 5, "monthly snapshot": 12, "yearly snapshot": 75}
	if diff := cmp.Diff(want, countReasons(res)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if len(res.Keep) != 95 {
		t.Errorf("kept %d snapshots, want 95", len(res.Keep))
	}
	got := times(res.Keep)
	for _, w := range []string{"2019-11-11 12:00:00", "2019-10-20 12:00:00", "2019-10-31 12:00:00", "2018-12-31 12:00:00", "1945-12-31 12:00:00"} {
		if !slices.Contains(got, w) {
			t.Errorf("%s not kept", w)
		}
	}
	if slices.Contains(got, "1944-12-31 12:00:00") {
		t.Error("a 76th year end was kept")
	}
}

// TestDocWithinPeriods is the documentation's variant for irregular
// backups: --keep-within-daily 7d --keep-within-weekly 1m
// --keep-within-monthly 1y --keep-within-yearly 75y.
func TestDocWithinPeriods(t *testing.T) {
	p := forget.Policy{
		WithinDaily:   forget.Duration{Days: 7},
		WithinWeekly:  forget.Duration{Months: 1},
		WithinMonthly: forget.Duration{Years: 1},
		WithinYearly:  forget.Duration{Years: 75},
	}
	res := forget.Apply(hundredYears(), p, now)
	// Spans are exclusive at their start: 2019-11-10 12:00 is exactly 7d
	// before the latest and not within; November 2018 and 1944 are.
	want := map[string]int{"daily within 7d": 7, "weekly within 1m": 5, "monthly within 1y": 13, "yearly within 75y": 76}
	if diff := cmp.Diff(want, countReasons(res)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if len(res.Keep) != 7+4+12+74 {
		t.Errorf("kept %d snapshots, want %d", len(res.Keep), 7+4+12+74)
	}
}

func TestTagsFutureAndEmpty(t *testing.T) {
	list := []*snapshot.Snapshot{
		snap(t, "2016-03-01 00:00:00", "a", "b"),
		snap(t, "2016-03-02 00:00:00", "c"),
		snap(t, "2016-03-03 00:00:00"),
		snap(t, "2016-03-04 00:00:00", "a"),
	}
	res := forget.Apply(list, forget.Policy{Tags: []snapshot.TagList{{"a", "b"}, {}}}, now)
	got := map[string][]string{}
	for _, r := range res.Reasons {
		got[r.Snapshot.Time.Format(time.DateOnly)] = r.Matches
	}
	want := map[string][]string{"2016-03-01": {"has tags [a, b]"}, "2016-03-03": {"has tags []"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keep-tag (-want +got):\n%s", diff)
	}

	// A snapshot in the future is kept by within rules but does not move
	// the latest time they measure from; the start is exclusive.
	fut := []*snapshot.Snapshot{
		snap(t, "2016-02-01 00:00:00"), snap(t, "2016-02-02 00:00:00"),
		snap(t, "2016-02-03 00:00:00"), snap(t, "2099-01-01 00:00:00"),
	}
	res = forget.Apply(fut, forget.Policy{Within: forget.Duration{Days: 1}}, now)
	if diff := cmp.Diff([]string{"2099-01-01 00:00:00", "2016-02-03 00:00:00"}, times(res.Keep)); diff != "" {
		t.Errorf("within 1d with a future snapshot (-want +got):\n%s", diff)
	}

	res = forget.Apply(fut, forget.Policy{}, now)
	if len(res.Keep) != 4 || res.Reasons[0].Matches[0] != "policy is empty" {
		t.Errorf("empty policy: %+v", res)
	}
	if res := forget.Apply(nil, forget.Policy{Last: 1}, now); len(res.Keep)+len(res.Remove) != 0 {
		t.Errorf("no snapshots: %+v", res)
	}
}

func TestCounters(t *testing.T) {
	var list []*snapshot.Snapshot
	for _, at := range resticList {
		list = append(list, snap(t, at))
	}
	res := forget.Apply(list, forget.Policy{Daily: 3, Weekly: 2, Monthly: forget.Unlimited}, now)
	want := []forget.Counters{{Daily: 2, Weekly: 1, Monthly: -1}, {Daily: 1, Weekly: 1, Monthly: -1}, {Daily: 0, Weekly: 0, Monthly: -1}}
	var got []forget.Counters
	for _, r := range res.Reasons {
		got = append(got, r.Counters)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want forget.Duration
		err  bool
	}{
		{"1y2m3d4h", forget.Duration{Years: 1, Months: 2, Days: 3, Hours: 4}, false},
		{"4h1y", forget.Duration{Years: 1, Hours: 4}, false},
		{" 7d ", forget.Duration{Days: 7}, false},
		{"2d3d", forget.Duration{Days: 3}, false},
		{"-1d", forget.Duration{Days: -1}, false},
		{"", forget.Duration{}, false},
		{"1w", forget.Duration{}, true},
		{"12", forget.Duration{}, true},
		{"d", forget.Duration{}, true},
		{"1dx", forget.Duration{}, true},
	}
	for _, tc := range tests {
		got, err := forget.ParseDuration(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && tc.in != "" && tc.in == strings.TrimSpace(tc.in) && !strings.Contains(tc.in, "-") {
			again, _ := forget.ParseDuration(got.String())
			if again != got {
				t.Errorf("ParseDuration(%q).String() = %q does not read back", tc.in, got.String())
			}
		}
	}
}

func TestCount(t *testing.T) {
	for in, want := range map[string]forget.Count{"0": 0, "5": 5, "-1": forget.Unlimited, "unlimited": forget.Unlimited} {
		var c forget.Count
		if err := c.Set(in); err != nil || c != want {
			t.Errorf("Count.Set(%q) = %v, %v; want %v", in, c, err, want)
		}
	}
	for _, in := range []string{"-2", "x", ""} {
		var c forget.Count
		if err := c.Set(in); err == nil {
			t.Errorf("Count.Set(%q) accepted", in)
		}
	}
}

// TestPolicyString compares with what restic 0.14 prints after "Applying
// Policy: ".
func TestPolicyString(t *testing.T) {
	tests := []struct {
		p    forget.Policy
		want string
	}{
		{forget.Policy{Daily: 3, Weekly: 2}, "keep 3 daily, 2 weekly snapshots"},
		{forget.Policy{Last: 1, Tags: []snapshot.TagList{{"a", "b"}, {"c"}, {}}}, "keep 1 latest snapshots and all snapshots with tags [[a, b] [c] []]"},
		{
			forget.Policy{Daily: 2, WithinDaily: forget.Duration{Days: 2, Hours: 3}, Tags: []snapshot.TagList{{"a", "b"}, {"c"}}, Within: forget.Duration{Years: 1, Months: 2, Days: 3, Hours: 4}},
			"keep 2 daily snapshots, daily snapshots within 2d3h and all snapshots with tags [[a, b] [c]] and all snapshots within 1y2m3d4h of the newest",
		},
		{forget.Policy{Monthly: forget.Unlimited, WithinHourly: forget.Duration{Days: 1}}, "keep all monthly snapshots, hourly snapshots within 1d"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
