package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/cairn-backup/cairn/internal/dump"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type dumpOptions struct {
	filter  snapshotFilterFlags
	Archive string
	Target  string
}

func newDumpCommand(g *globalOptions) *cobra.Command {
	var o dumpOptions
	cmd := &cobra.Command{
		Use:   "dump [flags] SNAPSHOT PATH",
		Short: "Print a file of a snapshot, or a directory as a tar or zip archive",
		Long: `Print a file of a snapshot, or a directory as a tar or zip archive.

A file is written as it is. A directory is written as an archive of its
contents, whose entries are named by their full path in the snapshot
(without the leading slash); PATH "/" dumps the whole snapshot. Tar
archives keep owners, permissions, nanosecond times, hardlinks, fifos,
devices and extended attributes (as SCHILY.xattr PAX records); zip archives
keep files, directories and symlinks.

SNAPSHOT is an ID, a unique ID prefix or "latest" (with --host, --tag and
--path to choose among snapshots).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDump(cmd, g, o, args[0], args[1])
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.Archive, "archive", "a", "tar", "archive `format` for directories: tar or zip")
	f.StringVarP(&o.Target, "target", "t", "", "write to `file` instead of stdout")
	return cmd
}

func runDump(cmd *cobra.Command, g *globalOptions, o dumpOptions, ref, p string) error {
	ctx := cmd.Context()
	if o.Archive != "tar" && o.Archive != "zip" {
		return fmt.Errorf("unknown archive format %q: use tar or zip", o.Archive)
	}
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	sn, err := snapshot.Find(ctx, repo, ref, o.filter.filter(), warnDamaged(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	p = path.Clean("/" + p)
	var node *tree.Node // nil: the whole snapshot
	if p != "/" {
		if node, err = walker.FindPath(ctx, repo, *sn.Tree, p); err != nil {
			return err
		}
	}
	switch {
	case node != nil && node.Type == tree.TypeDir && node.Subtree == nil:
		return fmt.Errorf("%s: directory without subtree: %w", p, tree.ErrInvalidData)
	case node == nil || node.Type == tree.TypeDir:
		if o.Target == "" && isTerminalWriter(cmd.OutOrStdout()) {
			return errors.New("stdout is the terminal, please redirect the output or use --target")
		}
	case node.Type != tree.TypeFile:
		return fmt.Errorf("%s is a %s; only files and directories can be dumped", p, node.Type)
	}
	return writeDumpOutput(cmd.OutOrStdout(), o.Target, func(w io.Writer) error {
		switch {
		case node == nil:
			return dumpArchive(ctx, repo, w, o.Archive, "/", *sn.Tree)
		case node.Type == tree.TypeDir:
			return dumpArchive(ctx, repo, w, o.Archive, p, *node.Subtree)
		}
		return dump.File(ctx, repo, w, node)
	})
}

// dumpArchive writes the tree root, found at dir in the snapshot, as an
// archive of the given format.
func dumpArchive(ctx context.Context, repo *repository.Repository, w io.Writer, format, dir string, root id.ID) error {
	var a dump.Archive
	if format == "zip" {
		a = dump.NewZip(w, repo)
	} else {
		a = dump.NewTar(w, repo)
	}
	if err := dump.Tree(ctx, repo, a, dir, root); err != nil {
		return err
	}
	return a.Close()
}

// writeDumpOutput runs write on a buffered writer to the file target, or to
// stdout if target is empty. A target that could not be written in full is
// removed.
func writeDumpOutput(stdout io.Writer, target string, write func(io.Writer) error) error {
	if target == "" {
		bw := bufio.NewWriterSize(stdout, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	f, err := os.Create(target)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(target)
	}
	return err
}

// isTerminalWriter reports whether w is a terminal.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
