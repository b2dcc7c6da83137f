package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cairn-backup/cairn/internal/snapshot"
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
	var hosts []string
	if h := env("HOST"); h != "" {
		hosts = []string{h}
	}
	f.StringArrayVarP(&s.Hosts, "host", "H", hosts, "only consider snapshots of this `host` (can be repeated; \"\" unsets the default, $CAIRN_HOST or $RESTIC_HOST)")
	f.StringArrayVar(&s.Tags, "tag", nil, "only consider snapshots with all of `tag[,tag,...]` (can be repeated: any of them)")
	f.StringArrayVar(&s.Paths, "path", nil, "only consider snapshots including this `path` (can be repeated: all of them)")
}

func (s *snapshotFilterFlags) filter() snapshot.Filter {
	f := snapshot.Filter{Paths: s.Paths}
	for _, h := range s.Hosts {
		if h != "" {
			f.Hosts = append(f.Hosts, h)
		}
	}
	for _, t := range s.Tags {
		f.Tags = append(f.Tags, snapshot.ParseTagList(t))
	}
	return f
}

type snapshotsOptions struct {
	filter  snapshotFilterFlags
	Latest  int
	GroupBy string
}

func newSnapshotsCommand(g *globalOptions) *cobra.Command {
	var o snapshotsOptions
	cmd := &cobra.Command{
		Use:   "snapshots [flags] [snapshot ID] ...",
		Short: "List snapshots",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSnapshots(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	cmd.Flags().IntVar(&o.Latest, "latest", 0, "only show the last `n` snapshots of each group")
	cmd.Flags().StringVarP(&o.GroupBy, "group-by", "g", "", "group snapshots by `fields` host, paths and/or tags, comma separated")
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
			s, err := snapshot.Find(ctx, repo, ref, o.filter.filter())
			if err != nil {
				return err
			}
			snaps = append(snaps, s)
		}
	} else {
		all, err := snapshot.LoadAll(ctx, repo)
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
			fmt.Fprintf(out, "snapshots for (host [%s], paths [%s], tags [%s]):\n", grp.Key.Hostname, strings.Join(grp.Key.Paths, ", "), strings.Join(grp.Key.Tags, ", "))
		}
		printSnapshotTable(out, grp.Snapshots)
		if o.GroupBy != "" {
			fmt.Fprintln(out)
		}
	}
	return nil
}

func printSnapshotTable(w io.Writer, snaps []*snapshot.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTime\tHost\tTags\tPaths")
	fmt.Fprintln(tw, "--------\t-------------------\t----\t----\t-----")
	for _, s := range snaps {
		paths := s.Paths
		if len(paths) == 0 {
			paths = []string{""}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID.Str(), s.Time.Local().Format("2006-01-02 15:04:05"), s.Hostname, strings.Join(s.Tags, ","), paths[0])
		for _, p := range paths[1:] {
			fmt.Fprintf(tw, "\t\t\t\t%s\n", p)
		}
	}
	_ = tw.Flush()
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
