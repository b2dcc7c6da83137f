package main

import (
	"fmt"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/spf13/cobra"
)

var listTypes = map[string]backend.FileType{
	"keys":      backend.KeyFile,
	"locks":     backend.LockFile,
	"snapshots": backend.SnapshotFile,
	"index":     backend.IndexFile,
	"packs":     backend.PackFile,
}

func newListCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:       "list [keys|locks|snapshots|index|packs|blobs]",
		Short:     "List the IDs of the files of one type",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"keys", "locks", "snapshots", "index", "packs", "blobs"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if args[0] == "blobs" {
				repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
				if err != nil {
					return err
				}
				defer release()
				idx, err := repo.LoadIndex(ctx)
				if err != nil {
					return err
				}
				idx.Each(func(h blob.Handle) { fmt.Fprintf(out, "%v %v\n", h.Type, h.ID) })
				return nil
			}
			t, ok := listTypes[args[0]]
			if !ok {
				return fmt.Errorf("invalid type %q (want keys, locks, snapshots, index, packs or blobs)", args[0])
			}
			repo, ctx, release, err := g.openLocked(ctx, listLockMode(t), true)
			if err != nil {
				return err
			}
			defer release()
			return repo.ListFiles(ctx, t, func(fi backend.FileInfo) error {
				_, err := fmt.Fprintln(out, fi.Name)
				return err
			})
		},
	}
}

// listLockMode is the lock `list` takes: none for locks (so that a stuck
// lock can be inspected), shared otherwise.
func listLockMode(t backend.FileType) lockMode {
	if t == backend.LockFile {
		return lockNone
	}
	return lockShared
}
