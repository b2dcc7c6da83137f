package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/spf13/cobra"
)

// snapshotFilterFlags are the --host/--tag/--path options shared by the
// commands that pick snapshots.
type snapshotFilterFlags struct {
	Hosts []string
	Tags  []string
	Paths []string
}

func (s *snapshotFilterFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVarP(&s.Hosts, "host", "H", nil, "only consider snapshots of this `host` (can be repeated)")
	f.StringArrayVar(&s.Tags, "tag", nil, "only consider snapshots with all of `tag[,tag,...]` (can be repeated: any of them)")
	f.StringArrayVar(&s.Paths, "path", nil, "only consider snapshots including this `path` (can be repeated: all of them)")
}

func (s *snapshotFilterFlags) filter() snapshot.Filter {
	f := snapshot.Filter{Hosts: hostFilter(s.Hosts), Paths: s.Paths}
	for _, t := range s.Tags {
		f.Tags = append(f.Tags, snapshot.ParseTagList(t))
	}
	return f
}

type snapshotsOptions struct {
	filter  snapshotFilterFlags
	Latest  int
	GroupBy string
	Compact bool
}

func newSnapshotsCommand(g *globalOptions) *cobra.Command {
	var o snapshotsOptions
	cmd := &cobra.Command{
		Use:   "snapshots [flags] [snapshot ID] ...",
		Short: "List snapshots",
		Long: `List the snapshots (those given, or all that --host, --tag and --path
select), oldest first, with their size: the bytes the backup processed.
--latest n keeps the newest n of each host and path set (of each group
with --group-by). With --json: one JSON array of snapshots, or with
--group-by an array of {group_key, snapshots} objects, as restic prints.` + exitStatusRepo,
		Example: `  cairn snapshots
  cairn snapshots --latest 1 --compact
  cairn snapshots --group-by host,tags --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSnapshots(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	cmd.Flags().IntVar(&o.Latest, "latest", 0, "only show the last `n` snapshots of each group")
	cmd.Flags().StringVarP(&o.GroupBy, "group-by", "g", "", "group snapshots by `fields` host, paths and/or tags, comma separated")
	cmd.Flags().BoolVarP(&o.Compact, "compact", "c", false, "use the compact format: no paths, the tags on one line")
	return cmd
}

func runSnapshots(cmd *cobra.Command, g *globalOptions, o snapshotsOptions, args []string) error {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	var snaps []*snapshot.Snapshot
	if len(args) > 0 {
		for _, ref := range args {
			s, err := snapshot.Find(ctx, repo, ref, o.filter.filter(), warnDamaged(cmd.ErrOrStderr()))
			var de *snapshot.DamagedError
			switch {
			case errors.As(err, &de): // as restic: named, unreadable, skipped
				fmt.Fprintf(cmd.ErrOrStderr(), "Ignoring %q: %v\n", ref, err)
				continue
			case err != nil:
				return err
			}
			snaps = append(snaps, s)
		}
	} else {
		all, err := snapshot.LoadAll(ctx, repo, warnDamaged(cmd.ErrOrStderr()))
		if err != nil {
			return err
		}
		f := o.filter.filter()
		for _, s := range all {
			if f.Match(s) {
				snaps = append(snaps, s)
			}
		}
	}
	if o.Latest > 0 && o.GroupBy == "" {
		// As restic: --latest counts per host and path set.
		byHost, err := snapshot.GroupBy(snaps, "host,paths")
		if err != nil {
			return err
		}
		snaps = snaps[:0]
		for _, grp := range byHost {
			snaps = append(snaps, snapshot.Latest(grp.Snapshots, o.Latest)...)
		}
		sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].Time.Before(snaps[j].Time) })
	}
	groups, err := snapshot.GroupBy(snaps, o.GroupBy)
	if err != nil {
		return err
	}
	for i := range groups {
		if o.Latest > 0 && o.GroupBy != "" {
			groups[i].Snapshots = snapshot.Latest(groups[i].Snapshots, o.Latest)
		}
	}
	if len(groups) == 0 && o.GroupBy == "" {
		groups = []snapshot.Group{{}}
	}
	out := cmd.OutOrStdout()
	if g.JSON {
		return printSnapshotsJSON(out, groups, o.GroupBy != "")
	}
	for _, grp := range groups {
		if o.GroupBy != "" {
			// As restic: the fields that are set, tags before paths.
			var parts []string
			if grp.Key.Hostname != "" {
				parts = append(parts, fmt.Sprintf("host [%s]", grp.Key.Hostname))
			}
			if len(grp.Key.Tags) > 0 {
				parts = append(parts, fmt.Sprintf("tags [%s]", strings.Join(grp.Key.Tags, ", ")))
			}
			if len(grp.Key.Paths) > 0 {
				parts = append(parts, fmt.Sprintf("paths [%s]", strings.Join(grp.Key.Paths, ", ")))
			}
			if len(parts) > 0 {
				fmt.Fprintf(out, "snapshots for (%s):\n", strings.Join(parts, ", "))
			}
		}
		printSnapshotTable(out, grp.Snapshots, o.Compact)
	}
	return nil
}

// printSnapshotTable prints restic 0.19.1's table: ID, time, host, tags,
// paths (compact: without paths, the tags on one line) and the size the
// backup processed, between two rules as wide as the table, then the
// count. Extra tags and paths go on lines of their own. No snapshots
// print nothing, as restic.
func printSnapshotTable(w io.Writer, snaps []*snapshot.Snapshot, compact bool) {
	if len(snaps) == 0 {
		return
	}
	header := []string{"ID", "Time", "Host", "Tags", "Paths", "Size"}
	if compact {
		header = []string{"ID", "Time", "Host", "Tags", "Size"}
	}
	rows := [][]string{header}
	for _, s := range snaps {
		size := ""
		if s.Summary != nil {
			size = ui.FormatBytes(s.Summary.TotalBytesProcessed)
		}
		host := s.Hostname
		if compact {
			rows = append(rows, []string{s.ID.Str(), s.Time.Local().Format(time.DateTime), host, strings.Join(s.Tags, ","), size})
			continue
		}
		host = fmt.Sprintf("%-10s", host)
		n := max(len(s.Tags), len(s.Paths), 1)
		for k := range n {
			row := make([]string, 6)
			if k == 0 {
				row[0], row[1], row[2], row[5] = s.ID.Str(), s.Time.Local().Format(time.DateTime), host, size
			}
			if k < len(s.Tags) {
				row[3] = s.Tags[k]
			}
			row[3] = fmt.Sprintf("%-10s", row[3])
			if k < len(s.Paths) {
				row[4] = s.Paths[k]
			}
			rows = append(rows, row)
		}
	}
	widths := make([]int, len(header))
	for _, r := range rows {
		for c, cell := range r {
			widths[c] = max(widths[c], len(cell))
		}
	}
	total := 0
	for _, wd := range widths {
		total += wd + 2
	}
	rule := strings.Repeat("-", total-2)
	for i, r := range rows {
		var b strings.Builder
		for c, cell := range r {
			if c == len(r)-1 {
				b.WriteString(cell)
			} else {
				fmt.Fprintf(&b, "%-*s  ", widths[c], cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if i == 0 {
			fmt.Fprintln(w, rule)
		}
	}
	fmt.Fprintln(w, rule)
	// As restic: the zone's name ($TZ), or "local time" for the system's.
	zone := time.Local.String()
	if zone == "Local" {
		zone = "local time"
	}
	fmt.Fprintf(w, "Timestamps shown in %s\n", zone)
	fmt.Fprintf(w, "%d snapshots\n", len(snaps))
}

// snapshotJSON is a snapshot as restic's --json prints it: the stored
// fields plus id and short_id.
type snapshotJSON struct {
	*snapshot.Snapshot
	ID      string `json:"id"`
	ShortID string `json:"short_id"`
}

func printSnapshotsJSON(w io.Writer, groups []snapshot.Group, grouped bool) error {
	conv := func(snaps []*snapshot.Snapshot) []snapshotJSON {
		out := make([]snapshotJSON, 0, len(snaps))
		for _, s := range snaps {
			out = append(out, snapshotJSON{Snapshot: s, ID: s.ID.String(), ShortID: s.ID.Str()})
		}
		return out
	}
	var v any
	if grouped {
		type groupJSON struct {
			GroupKey  snapshot.GroupKey `json:"group_key"`
			Snapshots []snapshotJSON    `json:"snapshots"`
		}
		var gs []groupJSON
		for _, g := range groups {
			gs = append(gs, groupJSON{GroupKey: g.Key, Snapshots: conv(g.Snapshots)})
		}
		v = gs
	} else {
		var all []*snapshot.Snapshot
		for _, g := range groups {
			all = append(all, g.Snapshots...)
		}
		v = conv(all)
	}
	enc := json.NewEncoder(w)
	return enc.Encode(v)
}
