package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
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
	srcBE, err := g.openBackend(ctx, from, false)
	if err != nil {
		return err
	}
	pw, err := resolvePassword(ctx, o.FromPasswordFile, o.FromPasswordCmd, "FROM_", "enter password for source repository: ")
	if err != nil {
		return err
	}
	src, err := repository.Open(ctx, srcBE, pw, repository.Options{KeyHint: o.FromKeyHint})
	if err != nil {
		return fmt.Errorf("open source repository %s: %w", from, err)
	}
	g.useCache(src)
	srcLock, ctx, err := lock.Acquire(ctx, src, lock.Options{Wait: g.RetryLock, Notify: func(m string) { g.warnf("source: %s", m) }})
	if err != nil {
		return withExit(exitLocked, fmt.Errorf("lock source repository: %w", err))
	}
	defer func() { _ = srcLock.Release(ctx) }()

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
	c := &copier{src: src, dst: dst, seen: id.NewSet()}
	for _, sn := range snaps {
		if slices.ContainsFunc(have, func(h *snapshot.Snapshot) bool { return sameSnapshot(h, sn) }) {
			fmt.Fprintf(out, "snapshot %s already copied, skipped\n", sn.ID.Str())
			continue
		}
		if err := c.copyTree(ctx, *sn.Tree); err != nil {
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
		fmt.Fprintf(out, "copied %d snapshots, %d blobs\n", len(toSave), c.blobs)
	}
	return nil
}

// sameSnapshot reports whether dst already holds a copy of s.
func sameSnapshot(have, s *snapshot.Snapshot) bool {
	if have.Original != nil && s.Original != nil && *have.Original == *s.Original {
		return true
	}
	if have.Original != nil && *have.Original == s.ID {
		return true
	}
	return have.Tree != nil && s.Tree != nil && *have.Tree == *s.Tree && have.Time.Equal(s.Time) && have.Hostname == s.Hostname && slices.Equal(have.Paths, s.Paths)
}

// copier copies the blobs a tree needs that the destination lacks.
type copier struct {
	src, dst *repository.Repository
	seen     id.Set // trees already copied (or present)
	blobs    int
}

func (c *copier) copyBlob(ctx context.Context, h blob.Handle) ([]byte, error) {
	buf, err := c.src.LoadBlob(ctx, h)
	if err != nil {
		return nil, err
	}
	if !c.dst.HasBlob(h) {
		if _, known, _, err := c.dst.SaveBlob(ctx, h.Type, buf, h.ID); err != nil {
			return nil, err
		} else if !known {
			c.blobs++
		}
	}
	return buf, nil
}

func (c *copier) copyTree(ctx context.Context, tid id.ID) error {
	if c.seen.Has(tid) {
		return nil
	}
	c.seen.Insert(tid)
	buf, err := c.copyBlob(ctx, blob.Handle{ID: tid, Type: blob.Tree})
	if err != nil {
		return err
	}
	t, err := tree.Decode(buf)
	if err != nil {
		return fmt.Errorf("tree %v: %w", tid.Str(), err)
	}
	for _, n := range t.Nodes {
		switch {
		case n.Type == tree.TypeDir && n.Subtree != nil:
			if err := c.copyTree(ctx, *n.Subtree); err != nil {
				return err
			}
		case n.Type == tree.TypeFile:
			for _, d := range n.Content {
				h := blob.Handle{ID: d, Type: blob.Data}
				if c.dst.HasBlob(h) {
					continue
				}
				if _, err := c.copyBlob(ctx, h); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
