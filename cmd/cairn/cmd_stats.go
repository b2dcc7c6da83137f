package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/stats"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/spf13/cobra"
)

type statsOptions struct {
	filter snapshotFilterFlags
	Mode   string
}

func newStatsCommand(g *globalOptions) *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [flags] [SNAPSHOT...]",
		Short: "Count the files and bytes of snapshots",
		Long: `Count the files and bytes of the given snapshots, or of all snapshots
(that --host, --tag and --path select), in one of these modes:

  restore-size       every entry, and the bytes a restore would write
                     (a hardlinked file once per snapshot)
  files-by-contents  entries with distinct contents, and their sizes
  raw-data           the distinct blobs the snapshots use, and the bytes
                     they take in the repository
  blobs-per-file     like files-by-contents, counting the size of the
                     distinct blobs of each such file

The numbers are those restic 0.14 prints.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	cmd.Flags().StringVar(&o.Mode, "mode", string(stats.RestoreSize), "counting `mode`: restore-size, files-by-contents, raw-data or blobs-per-file")
	return cmd
}

func runStats(cmd *cobra.Command, g *globalOptions, o statsOptions, args []string) error {
	ctx := cmd.Context()
	mode, err := stats.ParseMode(o.Mode)
	if err != nil {
		return err
	}
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	snaps, err := snapshot.Select(ctx, repo, args, o.filter.filter())
	if err != nil {
		return err
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !g.JSON {
		fmt.Fprintln(out, "scanning...")
	}
	c := stats.New(repo, mode)
	for _, sn := range snaps {
		if err := c.Add(ctx, sn); err != nil {
			return fmt.Errorf("snapshot %s: %w", sn.ID.Str(), err)
		}
	}
	totals, err := c.Totals()
	if err != nil {
		return err
	}
	return printStats(out, o, g.JSON, totals)
}

func printStats(w io.Writer, o statsOptions, asJSON bool, t stats.Totals) error {
	if asJSON {
		return json.NewEncoder(w).Encode(t)
	}
	fmt.Fprintf(w, "Stats in %s mode:\n", o.Mode)
	fmt.Fprintf(w, "Snapshots processed:   %d\n", t.SnapshotsCount)
	if t.TotalBlobCount > 0 {
		fmt.Fprintf(w, "   Total Blob Count:   %d\n", t.TotalBlobCount)
	}
	if t.TotalFileCount > 0 {
		fmt.Fprintf(w, "   Total File Count:   %d\n", t.TotalFileCount)
	}
	fmt.Fprintf(w, "         Total Size:   %-5s\n", ui.FormatBytes(t.TotalSize))
	return nil
}
