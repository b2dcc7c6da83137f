package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
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

The numbers are those restic prints; raw-data also tells, for repositories
of version 2, the size the blobs would take uncompressed and how much
compression saves. A SNAPSHOT that matches nothing ("latest" in an empty
repository, say) is reported on stderr and left out, as restic does.` + exitStatusRepo,
		Example: `  cairn stats
  cairn stats latest --mode raw-data --json
  cairn stats --host web1 --tag daily --mode files-by-contents`,
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
	snaps, err := selectSnapshots(ctx, cmd.ErrOrStderr(), repo, args, o.filter.filter())
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

// selectSnapshots is snapshot.Select, as restic picks snapshots for stats
// and tag: a reference that matches no snapshot is reported with an
// "Ignoring" line on w and skipped, and so is a damaged one.
func selectSnapshots(ctx context.Context, w io.Writer, repo *repository.Repository, refs []string, f snapshot.Filter) ([]*snapshot.Snapshot, error) {
	if len(refs) == 0 {
		return snapshot.Select(ctx, repo, nil, f, warnDamaged(w))
	}
	var out []*snapshot.Snapshot
	seen := id.NewSet()
	for _, ref := range refs {
		sn, err := snapshot.Find(ctx, repo, ref, f, warnDamaged(w))
		var de *snapshot.DamagedError
		switch {
		case errors.As(err, &de):
			fmt.Fprintf(w, "Ignoring %q: %v\n", ref, err)
			continue
		case errors.Is(err, snapshot.ErrNotFound) && ref == "latest":
			fmt.Fprintf(w, "Ignoring %q: no snapshot matched given filter (Paths:%v Tags:%v Hosts:%v)\n", ref, f.Paths, f.Tags, f.Hosts)
			continue
		case errors.Is(err, snapshot.ErrNotFound):
			fmt.Fprintf(w, "Ignoring %q: %v\n", ref, err)
			continue
		case err != nil:
			return nil, err
		}
		if !seen.Has(sn.ID) {
			seen.Insert(sn.ID)
			out = append(out, sn)
		}
	}
	return out, nil
}

func printStats(w io.Writer, o statsOptions, asJSON bool, t stats.Totals) error {
	if asJSON {
		return json.NewEncoder(w).Encode(t)
	}
	line := func(label, value string) { fmt.Fprintf(w, "%24s:  %s\n", label, value) }
	fmt.Fprintf(w, "Stats in %s mode:\n", o.Mode)
	line("Snapshots processed", fmt.Sprint(t.SnapshotsCount))
	if t.TotalBlobCount > 0 {
		line("Total Blob Count", fmt.Sprint(t.TotalBlobCount))
	}
	if t.TotalFileCount > 0 {
		line("Total File Count", fmt.Sprint(t.TotalFileCount))
	}
	if t.TotalUncompressedSize > 0 {
		line("Total Uncompressed Size", ui.FormatBytes(t.TotalUncompressedSize))
	}
	line("Total Size", fmt.Sprintf("%-5s", ui.FormatBytes(t.TotalSize)))
	if t.TotalUncompressedSize > 0 {
		line("Compression Progress", fmt.Sprintf("%.2f%%", t.CompressionProgress))
		line("Compression Ratio", fmt.Sprintf("%.2fx", t.CompressionRatio))
		line("Compression Space Saving", fmt.Sprintf("%.2f%%", t.CompressionSpaceSaving))
	}
	return nil
}
