package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/rewrite"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/spf13/cobra"
)

type rewriteOptions struct {
	filter       snapshotFilterFlags
	Excludes     []string
	IExcludes    []string
	ExcludeFiles []string
	Forget       bool
	DryRun       bool
}

func newRewriteCommand(g *globalOptions) *cobra.Command {
	var o rewriteOptions
	cmd := &cobra.Command{
		Use:   "rewrite [flags] [snapshot ID] ...",
		Short: "Rewrite snapshots without excluded files",
		Long: `Rewrite snapshots without the files the exclude options match (all
snapshots matching the filters when no IDs are given). The new snapshots
record the ID of the one they come from ("original"); with --forget the
old ones are removed (run prune to free the space).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			pats, err := filter.ParsePatterns(o.Excludes, false)
			if err != nil {
				return err
			}
			ip, err := filter.ParsePatterns(o.IExcludes, true)
			if err != nil {
				return err
			}
			pats = append(pats, ip...)
			for _, f := range o.ExcludeFiles {
				lines, err := filter.ReadPatternFile(f)
				if err != nil {
					return err
				}
				fp, err := filter.ParsePatterns(lines, false)
				if err != nil {
					return err
				}
				pats = append(pats, fp...)
			}
			if len(pats) == 0 {
				return errors.New("nothing to do: give --exclude, --iexclude or --exclude-file")
			}
			node := func(p string, n *tree.Node) *tree.Node {
				if filter.Match(pats, p) {
					return nil
				}
				return n
			}
			return runRewrite(cmd, g, o.filter, args, o.Forget, o.DryRun, "rewrote", func(ctx context.Context, repo *repository.Repository) *rewrite.Rewriter {
				return &rewrite.Rewriter{Repo: repo, Node: node}
			})
		},
	}
	o.filter.add(cmd)
	cmd.Flags().StringArrayVarP(&o.Excludes, "exclude", "e", nil, "leave out paths matching `pattern` (can be repeated)")
	cmd.Flags().StringArrayVar(&o.IExcludes, "iexclude", nil, "like --exclude, ignoring case")
	cmd.Flags().StringArrayVar(&o.ExcludeFiles, "exclude-file", nil, "read exclude patterns from a `file`")
	cmd.Flags().BoolVar(&o.Forget, "forget", false, "remove the original snapshots")
	cmd.Flags().BoolVarP(&o.DryRun, "dry-run", "n", false, "show what would change, write nothing")
	return cmd
}

// runRewrite applies a tree rewriter to the selected snapshots and saves
// the changed ones.
func runRewrite(cmd *cobra.Command, g *globalOptions, f snapshotFilterFlags, args []string, forget, dryRun bool, verb string, mk func(context.Context, *repository.Repository) *rewrite.Rewriter) error {
	ctx := cmd.Context()
	mode := lockShared
	if forget {
		mode = lockExclusive
	}
	if dryRun {
		mode = lockNone
	}
	repo, ctx, release, err := g.openLocked(ctx, mode, false)
	if err != nil {
		return err
	}
	defer release()
	snaps, err := snapshot.Select(ctx, repo, args, f.filter())
	if err != nil {
		return err
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	if err := repo.StartWriting(ctx, repository.WriteOptions{DryRun: dryRun}); err != nil {
		return err
	}
	rw := mk(ctx, repo)
	type change struct {
		sn   *snapshot.Snapshot
		tree id.ID
	}
	var changes []change
	for _, sn := range snaps {
		nt, changed, err := rw.Rewrite(ctx, "/", *sn.Tree)
		if err != nil {
			_, _ = repo.Finish(ctx)
			return fmt.Errorf("snapshot %v: %w", sn.ID.Str(), err)
		}
		if changed {
			changes = append(changes, change{sn, nt})
		}
	}
	if _, err := repo.Finish(ctx); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	for _, c := range changes {
		if dryRun {
			fmt.Fprintf(out, "would rewrite snapshot %s\n", c.sn.ID.Str())
			continue
		}
		next := *c.sn
		if next.Original == nil {
			orig := c.sn.ID
			next.Original = &orig
		}
		nt := c.tree
		next.Tree = &nt
		sid, err := saveSnapshot(ctx, repo, &next)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "snapshot %s -> %s\n", c.sn.ID.Str(), sid.Str())
		if forget {
			if err := repo.RemoveSnapshot(ctx, c.sn.ID); err != nil {
				return fmt.Errorf("remove snapshot %v: %w", c.sn.ID.Str(), err)
			}
		}
	}
	if !g.Quiet {
		fmt.Fprintf(out, "%s %d of %d snapshots\n", verb, len(changes), len(snaps))
	}
	return nil
}

func newRepairSnapshotsCommand(g *globalOptions) *cobra.Command {
	var f snapshotFilterFlags
	var forget, dryRun bool
	cmd := &cobra.Command{
		Use:   "snapshots [flags] [snapshot ID] ...",
		Short: "Rewrite damaged snapshots without what is missing",
		Long: `Rewrite snapshots whose trees or file contents are missing or damaged:
a file whose data is missing is left out, a directory whose tree cannot be
loaded becomes empty. The new snapshots record their original; with
--forget the damaged ones are removed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			warn := cmd.ErrOrStderr()
			return runRepair(cmd, g, f, args, forget, dryRun, warn)
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&forget, "forget", false, "remove the damaged snapshots")
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "show what would change, write nothing")
	return cmd
}

func runRepair(cmd *cobra.Command, g *globalOptions, f snapshotFilterFlags, args []string, forget, dryRun bool, warn io.Writer) error {
	return runRewrite(cmd, g, f, args, forget, dryRun, "repaired", func(ctx context.Context, repo *repository.Repository) *rewrite.Rewriter {
		return &rewrite.Rewriter{
			Repo: repo,
			Node: func(p string, n *tree.Node) *tree.Node {
				if n.Type != tree.TypeFile {
					return n
				}
				for _, c := range n.Content {
					if !repo.HasBlob(blob.Handle{ID: c, Type: blob.Data}) {
						fmt.Fprintf(warn, "%s: data blob %v missing, file left out\n", p, c.Str())
						return nil
					}
				}
				return n
			},
			TreeError: func(p string, tid id.ID, err error) (id.ID, error) {
				fmt.Fprintf(warn, "%s: tree %v unreadable (%v), replaced by an empty directory\n", p, tid.Str(), err)
				return rewrite.EmptyTree(ctx, repo)
			},
		}
	})
}
