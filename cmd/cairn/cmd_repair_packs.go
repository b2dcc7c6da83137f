package main

import (
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
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
removed) keeps the repository valid if interrupted.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, ctx, release, err := g.openLocked(ctx, lockExclusive, false)
			if err != nil {
				return err
			}
			defer release()
			damaged := id.NewSet()
			for _, a := range args {
				pid, err := repository.Find(ctx, repo.Backend(), backend.PackFile, a)
				if err != nil && !errors.Is(err, backend.ErrNotExist) {
					return err
				}
				if err != nil {
					if pid, err = id.Parse(a); err != nil {
						return fmt.Errorf("pack %q: %w", a, err)
					}
				}
				damaged.Insert(pid)
			}
			pi, err := repo.LoadPruneIndex(ctx)
			if err != nil {
				return err
			}
			var keep, bad []repository.IndexedPack
			for _, p := range pi.Packs {
				if damaged.Has(p.ID) {
					bad = append(bad, p)
				} else {
					keep = append(keep, p)
				}
			}
			if err := repo.StartRepacking(ctx, keep, repository.WriteOptions{}); err != nil {
				return err
			}
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			saved, lost := 0, 0
			for _, p := range bad {
				locs := make([]blob.PackedBlob, 0, len(p.Blobs))
				for _, b := range p.Blobs {
					locs = append(locs, p.Location(b))
				}
				got := map[id.ID]bool{}
				serr := repo.StreamPack(ctx, locs, func(loc blob.PackedBlob, plain []byte, err error) error {
					if err != nil {
						return nil
					}
					if _, _, _, err := repo.SaveBlob(ctx, loc.Handle.Type, plain, loc.Handle.ID); err != nil {
						return err
					}
					got[loc.Handle.ID] = true
					return nil
				})
				if serr != nil && ctx.Err() != nil {
					_, _ = repo.Finish(ctx)
					return serr
				}
				for _, b := range p.Blobs {
					if got[b.Handle.ID] {
						saved++
					} else {
						lost++
						fmt.Fprintf(errw, "pack %v: %v lost\n", p.ID.Str(), b.Handle)
					}
				}
			}
			if _, err := repo.Finish(ctx); err != nil {
				return err
			}
			if _, err := repo.SaveIndexPacks(ctx, keep); err != nil {
				return err
			}
			for _, f := range pi.Files {
				if err := repo.Backend().Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: f.String()}); err != nil && !errors.Is(err, backend.ErrNotExist) {
					return fmt.Errorf("remove old index %v: %w", f.Str(), err)
				}
			}
			for pid := range damaged {
				if err := repo.Backend().Remove(ctx, backend.Handle{Type: backend.PackFile, Name: pid.String()}); err != nil && !errors.Is(err, backend.ErrNotExist) {
					return fmt.Errorf("remove pack %v: %w", pid.Str(), err)
				}
			}
			fmt.Fprintf(out, "salvaged %d blobs, lost %d, removed %d packs\n", saved, lost, len(damaged))
			if lost > 0 {
				fmt.Fprintln(out, `run "cairn repair snapshots --forget" to rewrite the snapshots that need the lost blobs`)
			}
			return nil
		},
	}
}
