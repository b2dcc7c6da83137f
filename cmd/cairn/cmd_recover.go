package main

import (
	"fmt"
	"os"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/recovery"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/spf13/cobra"
)

func newRecoverCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "recover [flags]",
		Short: "Recover data from the repository not referenced by snapshots",
		Long: `Build a new snapshot from every directory tree in the repository that no
snapshot and no other tree refers to, for example the trees of a snapshot
removed by accident with "forget" (before "prune" deleted its data). The
index is rebuilt from the pack files first, so that trees in packs missing
from it are found too. The new snapshot has the path /recover, the tag
"recovered" and one directory per recovered tree, named by the tree's short
ID. Nothing is written when every tree is referenced.

With --json the result is one "summary" line (docs/json.md).` + exitStatusRepo,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRecover(cmd, g)
		},
	}
}

// recoverJSON is cairn's recover --json line (restic 0.19.1 prints text).
type recoverJSON struct {
	MessageType       string `json:"message_type"` // "summary"
	UnreferencedRoots int    `json:"unreferenced_roots"`
	SnapshotID        string `json:"snapshot_id,omitempty"`
}

func runRecover(cmd *cobra.Command, g *globalOptions) error {
	hostname, err := os.Hostname()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockExclusive, false)
	if err != nil {
		return err
	}
	defer release()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	text := !g.JSON
	progress := func(format string, args ...any) { // restic's P lines
		if text && !g.Quiet {
			fmt.Fprintf(out, format, args...)
		}
	}

	progress("ensuring index is complete\n")
	rep, err := repo.RebuildIndex(ctx, nil)
	if err != nil {
		return err
	}
	warnBadPacks(errOut, rep)
	progress("load index files\n")
	idx, err := repo.LoadIndex(ctx)
	if err != nil {
		return err
	}
	trees := recovery.TreeIDs(idx)
	progress("load %d trees\n", len(trees))
	bar := newCounter(out, g, len(trees), "trees loaded")
	roots, err := recovery.Roots(ctx, repo, trees, recovery.Report{
		Loaded: func(int) { bar.AddFiles(1) },
		TreeError: func(tid id.ID, err error) {
			fmt.Fprintf(errOut, "unable to load tree %v: %v\n", tid.Str(), err)
		},
	})
	bar.Finish()
	if err != nil {
		return err
	}
	progress("load snapshots\n")
	snaps, err := snapshot.LoadAll(ctx, repo, warnDamaged(errOut))
	if err != nil {
		return err
	}
	snapTrees := make([]id.ID, 0, len(snaps))
	for _, sn := range snaps {
		snapTrees = append(snapTrees, *sn.Tree)
	}
	roots = recovery.WithoutSnapshotTrees(roots, snapTrees)
	progress("done\n")
	if text && g.Verbose >= 1 {
		for _, r := range roots {
			fmt.Fprintf(out, "found root tree %v\n", r.Str())
		}
	}
	if text {
		fmt.Fprintf(out, "\nfound %d unreferenced roots\n", len(roots))
	}
	if len(roots) == 0 {
		progress("no snapshot to write.\n")
		if g.JSON {
			return printJSONLine(out, recoverJSON{MessageType: "summary"})
		}
		return nil
	}

	sid, err := saveRecovered(cmd, repo, roots, hostname)
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSONLine(out, recoverJSON{"summary", len(roots), sid.String()})
	}
	fmt.Fprintf(out, "saved new snapshot %v\n", sid.Str())
	return nil
}

// saveRecovered saves the tree listing roots and a snapshot of it.
func saveRecovered(cmd *cobra.Command, repo *repository.Repository, roots []id.ID, hostname string) (id.ID, error) {
	ctx := cmd.Context()
	t, err := recovery.RootTree(roots, time.Now)
	if err != nil {
		return id.ID{}, err
	}
	if err := repo.StartWriting(ctx, repository.WriteOptions{}); err != nil {
		return id.ID{}, err
	}
	tid, err := recovery.SaveTree(ctx, repo, t)
	if err != nil {
		_, _ = repo.Finish(ctx)
		return id.ID{}, fmt.Errorf("unable to save new tree to the repository: %w", err)
	}
	if _, err := repo.Finish(ctx); err != nil {
		return id.ID{}, fmt.Errorf("unable to save new tree to the repository: %w", err)
	}
	sn, err := snapshot.New([]string{"/recover"}, []string{"recovered"}, hostname, time.Now())
	if err != nil {
		return id.ID{}, fmt.Errorf("unable to save snapshot: %w", err)
	}
	sn.Tree = &tid
	sid, err := saveSnapshot(ctx, repo, sn)
	if err != nil {
		return id.ID{}, fmt.Errorf("unable to save snapshot: %w", err)
	}
	return sid, nil
}
