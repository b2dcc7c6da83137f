package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cairn-backup/cairn/internal/diff"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/cairn-backup/cairn/internal/walker"
	"github.com/spf13/cobra"
)

type diffOptions struct {
	Metadata bool
}

func newDiffCommand(g *globalOptions) *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff [flags] SNAPSHOT[:PATH] SNAPSHOT[:PATH]",
		Short: "Show what changed from one snapshot to another",
		Long: `Show what changed from the first snapshot to the second, one line per
path, and a summary. The first column says what happened:

  +  the path was added
  -  the path was removed
  M  the file's content changed
  U  only the metadata changed (mode, times, owner, ...; with --metadata)
  T  the type changed, for example a file became a symlink

A directory whose contents changed counts as changed metadata. With :PATH
after a snapshot, the directory at PATH in it is compared instead of the
whole snapshot. Directories that are identical in both are skipped without
being read, except to count their blobs for the summary.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd, g, o, args[0], args[1])
		},
	}
	cmd.Flags().BoolVar(&o.Metadata, "metadata", false, "also show paths whose metadata changed")
	return cmd
}

func runDiff(cmd *cobra.Command, g *globalOptions, o diffOptions, ref1, ref2 string) error {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	sn1, sub1, err := findSnapshotPath(ctx, repo, cmd.ErrOrStderr(), ref1)
	if err != nil {
		return err
	}
	sn2, sub2, err := findSnapshotPath(ctx, repo, cmd.ErrOrStderr(), ref2)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush() // what was printed before an error
	if !g.JSON && !g.Quiet {
		fmt.Fprintf(out, "comparing snapshot %s to %s:\n\n", sn1.ID.Str(), sn2.ID.Str())
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	tree1, err := subtreeID(ctx, repo, sn1, sub1)
	if err != nil {
		return err
	}
	tree2, err := subtreeID(ctx, repo, sn2, sub2)
	if err != nil {
		return err
	}
	var printErr error // first error printing JSON
	printJSON := func(v any) {
		b, err := json.Marshal(v)
		if err == nil {
			_, err = out.Write(append(b, '\n'))
		}
		if err != nil && printErr == nil {
			printErr = err
		}
	}
	stats, err := diff.Trees(ctx, repo, repo.Index(), tree1, tree2, diff.Options{Metadata: o.Metadata}, func(c diff.Change) error {
		switch {
		case g.JSON:
			printJSON(struct {
				MessageType string `json:"message_type"`
				Path        string `json:"path"`
				Modifier    string `json:"modifier"`
			}{"change", c.Path, c.Modifier})
		case !g.Quiet: // no listing with --quiet, as restic
			fmt.Fprintf(out, "%-5s%s\n", c.Modifier, c.Path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if printErr != nil {
		return printErr
	}
	if g.JSON {
		// As restic, the snapshots are named as the arguments gave them
		// (a prefix stays a prefix, ":PATH" stays).
		printJSON(struct {
			MessageType    string     `json:"message_type"`
			SourceSnapshot string     `json:"source_snapshot"`
			TargetSnapshot string     `json:"target_snapshot"`
			ChangedFiles   int        `json:"changed_files"`
			Added          diff.Count `json:"added"`
			Removed        diff.Count `json:"removed"`
		}{"statistics", ref1, ref2, stats.ChangedFiles, stats.Added, stats.Removed})
		if printErr != nil {
			return printErr
		}
		return out.Flush()
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Files:       %5d new, %5d removed, %5d changed\n", stats.Added.Files, stats.Removed.Files, stats.ChangedFiles)
	fmt.Fprintf(out, "Dirs:        %5d new, %5d removed\n", stats.Added.Dirs, stats.Removed.Dirs)
	fmt.Fprintf(out, "Others:      %5d new, %5d removed\n", stats.Added.Others, stats.Removed.Others)
	fmt.Fprintf(out, "Data Blobs:  %5d new, %5d removed\n", stats.Added.DataBlobs, stats.Removed.DataBlobs)
	fmt.Fprintf(out, "Tree Blobs:  %5d new, %5d removed\n", stats.Added.TreeBlobs, stats.Removed.TreeBlobs)
	fmt.Fprintf(out, "  Added:   %-5s\n", ui.FormatBytes(stats.Added.Bytes))
	fmt.Fprintf(out, "  Removed: %-5s\n", ui.FormatBytes(stats.Removed.Bytes))
	return out.Flush()
}

// findSnapshotPath resolves "SNAPSHOT[:PATH]" to the snapshot and the
// cleaned absolute path ("/" without one).
func findSnapshotPath(ctx context.Context, repo *repository.Repository, warn io.Writer, ref string) (*snapshot.Snapshot, string, error) {
	name, sub, _ := strings.Cut(ref, ":")
	sn, err := snapshot.Find(ctx, repo, name, snapshot.Filter{}, warnDamaged(warn))
	if err != nil {
		return nil, "", err
	}
	return sn, path.Clean("/" + sub), nil
}

// subtreeID returns the ID of the tree of the directory p in sn.
func subtreeID(ctx context.Context, repo *repository.Repository, sn *snapshot.Snapshot, p string) (id.ID, error) {
	if p == "/" {
		return *sn.Tree, nil
	}
	n, err := walker.FindPath(ctx, repo, *sn.Tree, p)
	if err != nil {
		return id.ID{}, err
	}
	if n.Type != tree.TypeDir || n.Subtree == nil {
		return id.ID{}, fmt.Errorf("%s in snapshot %s is not a directory", p, sn.ID.Str())
	}
	return *n.Subtree, nil
}
