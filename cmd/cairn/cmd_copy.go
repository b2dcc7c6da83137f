package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cairn-backup/cairn/internal/copier"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/spf13/cobra"
)

type copyOptions struct {
	filter           snapshotFilterFlags
	FromRepo         string
	FromPasswordFile string
	FromPasswordCmd  string
	FromKeyHint      string
}

func newCopyCommand(g *globalOptions) *cobra.Command {
	var o copyOptions
	cmd := &cobra.Command{
		Use:   "copy [flags] [snapshot ID] ...",
		Short: "Copy snapshots from another repository",
		Long: `Copy snapshots (all that match the filters when no IDs are given) from
--from-repo into this repository, with every blob they need. Snapshots
already copied are skipped. Both repositories should share the chunker
polynomial (init --copy-chunker-params) for later backups to deduplicate.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCopy(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.FromRepo, "from-repo", "", "source `repository` (default: $CAIRN_FROM_REPOSITORY, $RESTIC_FROM_REPOSITORY)")
	f.StringVar(&o.FromPasswordFile, "from-password-file", "", "`file` with the source repository's password")
	f.StringVar(&o.FromPasswordCmd, "from-password-command", "", "shell `command` printing the source repository's password")
	f.StringVar(&o.FromKeyHint, "from-key-hint", "", "`key` ID of the source repository to try first")
	return cmd
}

func runCopy(cmd *cobra.Command, g *globalOptions, o copyOptions, args []string) error {
	ctx := cmd.Context()
	from := o.FromRepo
	if from == "" {
		from = env("FROM_REPOSITORY")
	}
	if from == "" {
		return errors.New("please give the source repository with --from-repo")
	}
	src, ctx, srcRelease, err := g.openStack(ctx, stackSpec{
		loc: from,
		password: func(ctx context.Context) (string, error) {
			return resolvePassword(ctx, o.FromPasswordFile, o.FromPasswordCmd, "FROM_", "enter password for source repository: ")
		},
		opts:  repository.Options{KeyHint: o.FromKeyHint},
		mode:  lockShared,
		label: "source",
	})
	if err != nil {
		return err
	}
	defer srcRelease()

	dst, ctx, release, err := g.openLocked(ctx, lockShared, false)
	if err != nil {
		return err
	}
	defer release()

	snaps, err := snapshot.Select(ctx, src, args, o.filter.filter())
	if err != nil {
		return err
	}
	have, err := snapshot.LoadAll(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := src.LoadIndex(ctx); err != nil {
		return err
	}
	if _, err := dst.LoadIndex(ctx); err != nil {
		return err
	}
	if err := dst.StartWriting(ctx, repository.WriteOptions{}); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	var toSave []*snapshot.Snapshot
	c := copier.New(src, dst)
	for _, sn := range snaps {
		if slices.ContainsFunc(have, func(h *snapshot.Snapshot) bool { return copier.Copied(h, sn) }) {
			fmt.Fprintf(out, "snapshot %s already copied, skipped\n", sn.ID.Str())
			continue
		}
		if err := c.CopyTree(ctx, *sn.Tree); err != nil {
			_, _ = dst.Finish(ctx)
			return fmt.Errorf("copy snapshot %v: %w", sn.ID.Str(), err)
		}
		toSave = append(toSave, sn)
	}
	if _, err := dst.Finish(ctx); err != nil {
		return err
	}
	for _, sn := range toSave {
		next := *sn
		if next.Original == nil {
			orig := sn.ID
			next.Original = &orig
		}
		sid, err := saveSnapshot(ctx, dst, &next)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "snapshot %s copied to %s\n", sn.ID.Str(), sid.Str())
	}
	if !g.Quiet {
		fmt.Fprintf(out, "copied %d snapshots, %d blobs\n", len(toSave), c.Blobs())
	}
	return nil
}
