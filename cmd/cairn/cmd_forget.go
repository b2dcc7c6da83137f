package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/forget"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/metrics"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

type forgetOptions struct {
	policy   forget.Policy
	keepTags []string
	filter   snapshotFilterFlags
	groupBy  string
	dryRun   bool
	prune    bool
	compact  bool
	pruneOpt pruneFlags
	// unsafeAllowRemoveAll lets a policy remove every snapshot of a group.
	unsafeAllowRemoveAll bool
	metrics              metricsFlag
	report               func(metrics.ForgetFigures) // gets the counts for --metrics-file
}

func newForgetCommand(g *globalOptions) *cobra.Command {
	var o forgetOptions
	cmd := &cobra.Command{
		Use:   "forget [flags] [snapshot ID] [...]",
		Short: "Remove snapshots by ID or according to a policy",
		Long: `Remove the given snapshots, or those a policy (the --keep-* options) does not
keep. Snapshots are first divided into groups (--group-by, host and paths by
default) and the policy is applied to each group. Only snapshot files are
deleted; run prune (or pass --prune) to free the data they referenced.

As in restic, a snapshot ID that matches nothing is reported and skipped
(the others are still removed, and the exit code stays 0), a policy must
be given when no IDs are, and a policy that would remove every snapshot
of a group is refused unless --unsafe-allow-remove-all is given.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var fig *metrics.ForgetFigures
			o.report = func(f metrics.ForgetFigures) { fig = &f }
			return o.metrics.run(g, func() error { return runForget(cmd, g, o, args) },
				func(r metrics.Run) *prometheus.Registry { return metrics.Forget(r, fig) })
		},
	}
	f := cmd.Flags()
	p := &o.policy
	f.VarP(&p.Last, "keep-last", "l", "keep the last `n` snapshots (-1 or 'unlimited': all)")
	f.VarP(&p.Hourly, "keep-hourly", "H", "keep the last `n` hourly snapshots")
	f.VarP(&p.Daily, "keep-daily", "d", "keep the last `n` daily snapshots")
	f.VarP(&p.Weekly, "keep-weekly", "w", "keep the last `n` weekly snapshots")
	f.VarP(&p.Monthly, "keep-monthly", "m", "keep the last `n` monthly snapshots")
	f.VarP(&p.Yearly, "keep-yearly", "y", "keep the last `n` yearly snapshots")
	f.Var(&p.Within, "keep-within", "keep snapshots that are newer than `duration` (eg. 1y5m7d2h) relative to the latest snapshot")
	f.Var(&p.WithinHourly, "keep-within-hourly", "keep hourly snapshots that are newer than `duration` relative to the latest snapshot")
	f.Var(&p.WithinDaily, "keep-within-daily", "keep daily snapshots that are newer than `duration` relative to the latest snapshot")
	f.Var(&p.WithinWeekly, "keep-within-weekly", "keep weekly snapshots that are newer than `duration` relative to the latest snapshot")
	f.Var(&p.WithinMonthly, "keep-within-monthly", "keep monthly snapshots that are newer than `duration` relative to the latest snapshot")
	f.Var(&p.WithinYearly, "keep-within-yearly", "keep yearly snapshots that are newer than `duration` relative to the latest snapshot")
	f.StringArrayVar(&o.keepTags, "keep-tag", nil, "keep snapshots with this `taglist` (can be repeated)")
	// -H is --keep-hourly here, as in restic, so the filter flags are
	// declared without the shorthand the other commands give --host.
	f.StringArrayVar(&o.filter.Hosts, "host", nil, "only consider snapshots of this `host` (can be repeated)")
	f.StringArrayVar(&o.filter.Tags, "tag", nil, "only consider snapshots with all of `tag[,tag,...]` (can be repeated: any of them)")
	f.StringArrayVar(&o.filter.Paths, "path", nil, "only consider snapshots including this `path` (can be repeated: all of them)")
	f.BoolVarP(&o.compact, "compact", "c", false, "use compact output format")
	f.StringVarP(&o.groupBy, "group-by", "g", "host,paths", "`group` snapshots by host, paths and/or tags, separated by comma ('' for no grouping)")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "do not delete anything, just print what would be done")
	f.BoolVar(&o.prune, "prune", false, "run prune afterwards if snapshots have been removed")
	f.BoolVar(&o.unsafeAllowRemoveAll, "unsafe-allow-remove-all", false, "allow deleting all snapshots of a snapshot group")
	o.pruneOpt.add(f)
	o.metrics.add(cmd)
	return cmd
}

func runForget(cmd *cobra.Command, g *globalOptions, o forgetOptions, args []string) error {
	for _, t := range o.keepTags {
		o.policy.Tags = append(o.policy.Tags, snapshot.ParseTagList(t))
	}
	pruneOpts, err := o.pruneOpt.options(g)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	// Removing snapshot files is safe beside backups (restic takes an
	// exclusive lock here); with --prune, the prune's lock.
	mode := lockShared
	if o.prune {
		mode = o.pruneOpt.lockMode()
	}
	repo, ctx, release, err := g.openLocked(ctx, mode, o.dryRun)
	if err != nil {
		return err
	}
	defer release()
	if !o.dryRun {
		// A forget --prune killed in its prune leaves temporary packs, and
		// its rerun prunes nothing when no snapshot is left to remove.
		g.sweepTempFiles(ctx, repo, sweepDead) // left by killed processes of this host
	}
	out := cmd.OutOrStdout()
	text := out
	if g.JSON || g.Quiet {
		text = io.Discard
	}

	remove := id.NewSet()
	var groups []forgetGroupJSON
	if len(args) > 0 {
		// Explicit snapshots are removed whatever the policy says; as in
		// restic, the filters do not apply to them and an ID that matches
		// nothing is skipped with a warning.
		errOut := cmd.ErrOrStderr()
		if len(o.filter.Hosts)+len(o.filter.Tags)+len(o.filter.Paths) > 0 {
			fmt.Fprintf(errOut, "Ignoring %q: explicit snapshot ids are given\n", "filters")
		}
		for _, ref := range args {
			s, err := snapshot.Find(ctx, repo, ref, snapshot.Filter{}, warnDamaged(errOut))
			var de *snapshot.DamagedError
			switch {
			case errors.As(err, &de):
				// Named by ID: removed unread (restic 0.19.1 ignores it,
				// and no restic command can remove it).
				fmt.Fprintf(errOut, "removing damaged snapshot %v unread: %v\n", de.ID.Str(), err)
				remove.Insert(de.ID)
				continue
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				fmt.Fprintf(errOut, "Ignoring %q: %v\n", ref, err)
				continue
			}
			remove.Insert(s.ID)
		}
	} else {
		groups, err = applyForgetPolicy(ctx, repo, o, text, cmd.ErrOrStderr(), remove)
		if err != nil {
			return err
		}
	}

	if len(remove) > 0 {
		ids := sortedIDs(remove)
		if o.dryRun {
			short := make([]string, len(ids))
			for i, v := range ids {
				short[i] = v.Str()
			}
			fmt.Fprintf(text, "Would have removed the following snapshots:\n{%s}\n\n", strings.Join(short, " "))
		} else {
			if err := repo.RemoveSnapshots(ctx, ids); err != nil {
				return err
			}
			fmt.Fprintf(text, "removed %d snapshots\n", len(ids))
		}
	}
	if o.report != nil {
		o.report(forgetFigures(len(remove), groups, o.dryRun))
	}
	if g.JSON && len(groups) > 0 {
		if err := json.NewEncoder(out).Encode(groups); err != nil {
			return err
		}
	}
	if len(remove) == 0 || !o.prune {
		return nil
	}
	fmt.Fprintf(text, "%d snapshots have been removed, running prune\n", len(remove))
	pruneOut := out
	if g.JSON {
		pruneOut = cmd.ErrOrStderr()
	}
	return runPruneWith(ctx, g, pruneOut, false, repo, pruneOpts, o.dryRun, remove, nil)
}

// applyForgetPolicy applies the policy to each group of the snapshots
// that pass the filter, prints the tables to w, adds the snapshots to
// remove to the set and returns the groups for JSON output.
func applyForgetPolicy(ctx context.Context, repo *repository.Repository, o forgetOptions, w, errOut io.Writer, remove id.Set) ([]forgetGroupJSON, error) {
	snaps, err := snapshot.Select(ctx, repo, nil, o.filter.filter(), warnDamaged(errOut))
	if err != nil {
		return nil, err
	}
	by, err := snapshot.ParseGrouping(o.groupBy)
	if err != nil {
		return nil, err
	}
	if o.policy.Empty() {
		return nil, errors.New("no policy was specified, no snapshots will be removed")
	}
	fmt.Fprintf(w, "Applying Policy: %v\n", o.policy)
	var out []forgetGroupJSON
	results := forget.ApplyGroups(snaps, by, o.policy, time.Now())
	for _, res := range results {
		if len(res.Keep) == 0 && len(res.Remove) > 0 && !o.unsafeAllowRemoveAll {
			return nil, fmt.Errorf("refusing to delete last snapshot of snapshot group %q (--unsafe-allow-remove-all allows it)", forgetGroupName(by, res.Key))
		}
	}
	for _, res := range results {
		if by.Any() {
			var parts []string
			if by.Host {
				parts = append(parts, fmt.Sprintf("host [%s]", res.Key.Hostname))
			}
			if by.Paths {
				parts = append(parts, fmt.Sprintf("paths [%s]", strings.Join(res.Key.Paths, ", ")))
			}
			if by.Tags {
				parts = append(parts, fmt.Sprintf("tags [%s]", strings.Join(res.Key.Tags, ", ")))
			}
			fmt.Fprintf(w, "snapshots for (%s):\n", strings.Join(parts, ", "))
		}
		if len(res.Keep) > 0 {
			reasons := make(map[id.ID][]string, len(res.Reasons))
			for _, r := range res.Reasons {
				reasons[r.Snapshot.ID] = r.Matches
			}
			fmt.Fprintf(w, "keep %d snapshots:\n", len(res.Keep))
			printForgetTable(w, res.Keep, reasons, o.compact)
			fmt.Fprintln(w)
		}
		if len(res.Remove) > 0 {
			fmt.Fprintf(w, "remove %d snapshots:\n", len(res.Remove))
			printForgetTable(w, res.Remove, nil, o.compact)
			fmt.Fprintln(w)
		}
		for _, s := range res.Remove {
			remove.Insert(s.ID)
		}
		out = append(out, newForgetGroupJSON(res.Key, res.Result))
	}
	return out, nil
}

// forgetGroupName names a group as restic's refusal does:
// "host h1, path [/src]".
func forgetGroupName(by snapshot.Grouping, k snapshot.GroupKey) string {
	var parts []string
	if by.Host {
		parts = append(parts, "host "+k.Hostname)
	}
	if by.Paths {
		parts = append(parts, "path ["+strings.Join(k.Paths, " ")+"]")
	}
	if by.Tags {
		parts = append(parts, "tags ["+strings.Join(k.Tags, " ")+"]")
	}
	return strings.Join(parts, ", ")
}

func sortedIDs(s id.Set) []id.ID {
	out := make([]id.ID, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// printForgetTable prints snapshots oldest first in restic's forget
// layout, with a Reasons column when reasons is not nil.
func printForgetTable(w io.Writer, snaps []*snapshot.Snapshot, reasons map[id.ID][]string, compact bool) {
	sorted := slices.Clone(snaps)
	slices.SortStableFunc(sorted, func(a, b *snapshot.Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	header := []string{"ID", "Time", "Host      ", "Tags      "}
	if reasons != nil {
		header = append(header, "Reasons")
	}
	if !compact {
		header = append(header, "Paths")
	}
	rows := make([][][]string, len(sorted)) // row → column → lines
	for i, s := range sorted {
		cells := [][]string{{s.ID.Str()}, {s.Time.Local().Format(time.DateTime)}, {s.Hostname}, {strings.Join(s.Tags, ",")}}
		if reasons != nil {
			r := reasons[s.ID]
			if compact {
				r = []string{strings.Join(r, ", ")}
			}
			cells = append(cells, r)
		}
		if !compact {
			cells = append(cells, s.Paths)
		}
		rows[i] = cells
	}
	widths := make([]int, len(header))
	for c, h := range header {
		widths[c] = len(h)
		for _, r := range rows {
			for _, l := range r[c] {
				widths[c] = max(widths[c], len(l))
			}
		}
	}
	total := 2 * (len(widths) - 1)
	for _, n := range widths {
		total += n
	}
	line := func(cells []string) {
		var b strings.Builder
		for c, s := range cells {
			if c > 0 {
				b.WriteString("  ")
			}
			b.WriteString(s)
			if c < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[c]-len(s)))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(header)
	rule := strings.Repeat("-", total)
	fmt.Fprintln(w, rule)
	for _, r := range rows {
		n := 1
		for _, c := range r {
			n = max(n, len(c))
		}
		for i := range n {
			cells := make([]string, len(r))
			for c := range r {
				if i < len(r[c]) {
					cells[c] = r[c][i]
				}
			}
			line(cells)
		}
	}
	fmt.Fprintln(w, rule)
	fmt.Fprintf(w, "%d snapshots\n", len(sorted))
}

// forgetGroupJSON is one group as restic's forget --json prints it.
type forgetGroupJSON struct {
	Tags    []string           `json:"tags"`
	Host    string             `json:"host"`
	Paths   []string           `json:"paths"`
	Keep    []snapshotJSON     `json:"keep"`
	Remove  []snapshotJSON     `json:"remove"`
	Reasons []forgetReasonJSON `json:"reasons"`
}

type forgetReasonJSON struct {
	Snapshot snapshotJSON `json:"snapshot"`
	Matches  []string     `json:"matches"`
}

func newForgetGroupJSON(k snapshot.GroupKey, res forget.Result) forgetGroupJSON {
	conv := func(l []*snapshot.Snapshot) []snapshotJSON {
		var out []snapshotJSON
		for _, s := range l {
			out = append(out, snapshotJSON{Snapshot: s, ID: s.ID.String(), ShortID: s.ID.Str()})
		}
		return out
	}
	g := forgetGroupJSON{Tags: k.Tags, Host: k.Hostname, Paths: k.Paths, Keep: conv(res.Keep), Remove: conv(res.Remove)}
	for _, r := range res.Reasons {
		rj := forgetReasonJSON{Snapshot: snapshotJSON{Snapshot: r.Snapshot, ID: r.Snapshot.ID.String(), ShortID: r.Snapshot.ID.Str()}, Matches: r.Matches}
		g.Reasons = append(g.Reasons, rj)
	}
	return g
}
