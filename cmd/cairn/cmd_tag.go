package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/spf13/cobra"
)

type tagOptions struct {
	filter snapshotFilterFlags
	Add    []string
	Remove []string
	Set    []string
}

func newTagCommand(g *globalOptions) *cobra.Command {
	var o tagOptions
	cmd := &cobra.Command{
		Use:   "tag [flags] [snapshot ID] ...",
		Short: "Add, remove or set the tags of snapshots",
		Long: `Add, remove or set the tags of snapshots (all that match the filters when
no IDs are given). A changed snapshot is saved under a new ID that records
the first ID it had ("original"), and the old file is removed. With
--json: one "changed" line per changed snapshot (old_snapshot_id,
new_snapshot_id), then a "summary" line with changed_snapshots.` + exitStatusRepo,
		Example: `  cairn tag latest --add checked
  cairn tag --tag daily --remove daily --add weekly
  cairn tag 1a2b3c4d --set important,keep`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTag(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	cmd.Flags().StringArrayVar(&o.Add, "add", nil, "`tags` to add, as tag[,tag,...] (can be repeated)")
	cmd.Flags().StringArrayVar(&o.Remove, "remove", nil, "`tags` to remove (can be repeated)")
	cmd.Flags().StringArrayVar(&o.Set, "set", nil, "`tags` to set instead of the current ones (can be repeated)")
	return cmd
}

func splitTags(lists []string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, snapshot.ParseTagList(l)...)
	}
	return out
}

func runTag(cmd *cobra.Command, g *globalOptions, o tagOptions, args []string) error {
	if len(o.Set) > 0 && (len(o.Add) > 0 || len(o.Remove) > 0) {
		return errors.New("--set cannot be combined with --add or --remove")
	}
	if len(o.Set) == 0 && len(o.Add) == 0 && len(o.Remove) == 0 {
		return errors.New("nothing to do: give --add, --remove or --set")
	}
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockExclusive, false)
	if err != nil {
		return err
	}
	defer release()
	snaps, err := selectSnapshots(ctx, cmd.ErrOrStderr(), repo, args, o.filter.filter())
	if err != nil {
		return err
	}
	add, remove, set := splitTags(o.Add), splitTags(o.Remove), splitTags(o.Set)
	changed := 0
	enc := json.NewEncoder(cmd.OutOrStdout())
	for _, sn := range snaps {
		tags := slices.Clone(sn.Tags)
		if len(o.Set) > 0 {
			tags = slices.Clone(set)
		}
		for _, t := range add {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		tags = slices.DeleteFunc(tags, func(t string) bool { return slices.Contains(remove, t) })
		if slices.Equal(tags, sn.Tags) {
			continue
		}
		newID, err := replaceSnapshot(ctx, repo, sn, func(s *snapshot.Snapshot) { s.Tags = tags })
		if err != nil {
			return err
		}
		changed++
		if g.JSON {
			if err := enc.Encode(struct {
				MessageType string `json:"message_type"`
				Old         string `json:"old_snapshot_id"`
				New         string `json:"new_snapshot_id"`
			}{"changed", sn.ID.String(), newID.String()}); err != nil {
				return err
			}
		}
	}
	switch {
	case g.JSON:
		return enc.Encode(struct {
			MessageType string `json:"message_type"`
			Changed     int    `json:"changed_snapshots"`
		}{"summary", changed})
	case changed == 0:
		fmt.Fprintln(cmd.OutOrStdout(), "no snapshots were modified")
	case !g.Quiet:
		fmt.Fprintf(cmd.OutOrStdout(), "modified %d snapshots\n", changed)
	}
	return nil
}

// replaceSnapshot saves a changed copy of sn (recording its original ID)
// and then removes sn's file.
func replaceSnapshot(ctx context.Context, repo *repository.Repository, sn *snapshot.Snapshot, change func(*snapshot.Snapshot)) (id.ID, error) {
	next := *sn
	if next.Original == nil {
		orig := sn.ID
		next.Original = &orig
	}
	change(&next)
	newID, err := saveSnapshot(ctx, repo, &next)
	if err != nil {
		return id.ID{}, err
	}
	if err := repo.RemoveSnapshot(ctx, sn.ID); err != nil {
		return id.ID{}, fmt.Errorf("remove old snapshot %v: %w", sn.ID.Str(), err)
	}
	return newID, nil
}
