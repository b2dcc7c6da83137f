package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
	"github.com/spf13/cobra"
)

type lsOptions struct {
	filter snapshotFilterFlags
	Long   bool
}

func newLsCommand(g *globalOptions) *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls [flags] SNAPSHOT [DIR...]",
		Short: "List the files in a snapshot",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	cmd.Flags().BoolVarP(&o.Long, "long", "l", false, "print mode, owner, size and time too")
	return cmd
}

func runLs(cmd *cobra.Command, g *globalOptions, o lsOptions, args []string) error {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	sn, err := snapshot.Find(ctx, repo, args[0], o.filter.filter())
	if err != nil {
		return err
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "snapshot %s of %v at %s:\n", sn.ID.Str(), sn.Paths, sn.Time.Local().Format("2006-01-02 15:04:05.999999999 -0700 MST"))
	dirs := args[1:]
	show := func(p string) bool {
		if len(dirs) == 0 {
			return true
		}
		for _, d := range dirs {
			d = path.Clean("/" + d)
			if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
				return true
			}
		}
		return false
	}
	return walkTree(ctx, repo, "/", *sn.Tree, func(p string, n *tree.Node) error {
		if show(p) {
			printNode(out, p, n, o.Long)
		}
		return nil
	})
}

// walkTree calls fn for every node below the tree tid, depth first in
// name order, with the node's path.
func walkTree(ctx context.Context, repo *repository.Repository, dir string, tid id.ID, fn func(string, *tree.Node) error) error {
	return walker.Walk(ctx, repo, tid, walker.Options{Prefix: dir}, func(p string, n *tree.Node, _ id.ID) error {
		return fn(p, n)
	})
}

func printNode(w io.Writer, p string, n *tree.Node, long bool) {
	if !long {
		fmt.Fprintln(w, p)
		return
	}
	user, group := n.User, n.Group
	if user == "" {
		user = fmt.Sprint(n.UID)
	}
	if group == "" {
		group = fmt.Sprint(n.GID)
	}
	target := ""
	if n.Type == "symlink" {
		target = " -> " + n.LinkTarget
	}
	fmt.Fprintf(w, "%s %5s %5s %10d %s %s%s\n", n.Mode, user, group, n.Size, n.ModTime.Local().Format("2006-01-02 15:04:05"), p, target)
}
