package main

import (
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/spf13/cobra"
)

func newRepairCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Repair the repository",
	}
	var readAllPacks bool
	index := &cobra.Command{
		Use:     "index",
		Aliases: []string{"rebuild-index"},
		Short:   "Build a new index from the pack files",
		Long: `Build a new index from the headers of every pack file, then remove the old
index files. cairn always reads every pack header, so --read-all-packs
(restic's way of asking for that) changes nothing.

With --json the result is one "summary" line (docs/json.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			repo, ctx, release, err := g.openLocked(ctx, lockExclusive, false)
			if err != nil {
				return err
			}
			defer release()
			rep, err := repo.RebuildIndex(ctx, nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			warnBadPacks(cmd.ErrOrStderr(), rep)
			if g.JSON {
				bad := make([]string, len(rep.BadPacks))
				for i, p := range rep.BadPacks {
					bad[i] = p.String()
				}
				return printJSONLine(out, repairIndexJSON{"summary", rep.Packs, rep.Blobs, bad, rep.NewIndexFiles, rep.OldIndexFiles})
			}
			if !g.Quiet {
				fmt.Fprintf(out, "indexed %d packs (%d blobs) in %d new index files, removed %d old index files\n", rep.Packs, rep.Blobs, rep.NewIndexFiles, rep.OldIndexFiles)
			}
			return nil
		},
	}
	index.Flags().BoolVar(&readAllPacks, "read-all-packs", false, "read all pack files to generate new index from scratch (cairn always does)")
	cmd.AddCommand(index, newRepairSnapshotsCommand(g), newRepairPacksCommand(g))
	return cmd
}

// repairIndexJSON is cairn's repair index --json line (restic 0.19.1
// prints text).
type repairIndexJSON struct {
	MessageType       string   `json:"message_type"` // "summary"
	Packs             int      `json:"packs"`
	Blobs             int      `json:"blobs"`
	BadPacks          []string `json:"bad_packs"`
	NewIndexFiles     int      `json:"new_index_files"`
	RemovedIndexFiles int      `json:"removed_index_files"`
}

// warnBadPacks says, one line per pack whose header could not be read,
// what the new index holds of it.
func warnBadPacks(w io.Writer, rep repository.RepairReport) {
	for _, p := range rep.BadPacks {
		if n, ok := rep.Kept[p]; ok {
			fmt.Fprintf(w, "warning: pack %v: header unreadable, kept the %d blobs the old index lists within the file (`cairn repair packs %v` salvages them)\n", p, n, p)
			continue
		}
		fmt.Fprintf(w, "warning: pack %v: header unreadable, left out of the index\n", p)
	}
}
