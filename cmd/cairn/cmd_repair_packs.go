package main

import (
	"fmt"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/spf13/cobra"
)

func newRepairPacksCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "packs PACK-ID ...",
		Short: "Salvage the readable blobs of damaged packs and remove the packs",
		Long: `Salvage the blobs of damaged packs (as check --read-data names them) that
still decrypt and verify into new packs, then remove the damaged packs from
the index and the repository. Blobs that could not be saved are listed;
run "repair snapshots" afterwards to rewrite snapshots that need them.
The order (new packs, new index, old index removed, damaged packs
removed) keeps the repository valid if interrupted. With --json the result
is one "summary" line (docs/json.md).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, ctx, release, err := g.openLocked(ctx, lockExclusive, false)
			if err != nil {
				return err
			}
			defer release()
			damaged, err := repo.FindPacks(ctx, args)
			if err != nil {
				return err
			}
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			saved, lost, err := repo.SalvagePacks(ctx, damaged, func(pack id.ID, h blob.Handle) {
				fmt.Fprintf(errw, "pack %v: %v lost\n", pack.Str(), h)
			})
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSONLine(out, repairPacksJSON{"summary", saved, lost, len(damaged)})
			}
			fmt.Fprintf(out, "salvaged %d blobs, lost %d, removed %d packs\n", saved, lost, len(damaged))
			if lost > 0 {
				fmt.Fprintln(out, `run "cairn repair snapshots --forget" to rewrite the snapshots that need the lost blobs`)
			}
			return nil
		},
	}
}

// repairPacksJSON is cairn's repair packs --json line (restic 0.19.1
// prints text).
type repairPacksJSON struct {
	MessageType  string `json:"message_type"` // "summary"
	SavedBlobs   int    `json:"salvaged_blobs"`
	LostBlobs    int    `json:"lost_blobs"`
	RemovedPacks int    `json:"removed_packs"`
}
