package main

import (
	"fmt"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/spf13/cobra"
)

func newUnlockCommand(g *globalOptions) *cobra.Command {
	var removeAll bool
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Remove stale locks (of dead processes on this host, or older than 30 minutes)",
		Long: `Remove stale locks: those of processes of this host that are gone, and those
not refreshed for 30 minutes (with --remove-all, every lock).

It also removes the temporary files that killed writers left in the
repository (a lock or a pack cut off before its rename): at once when the
writer was a process of this host that is gone, after an hour otherwise.

Exit status is 0 if the command was successful, 1 if there was any error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			repo, err := g.openRepository(ctx)
			if err != nil {
				return err
			}
			// A lock that cannot be read is left, as restic's unlock
			// leaves it, but said so.
			n, err := lock.RemoveStale(ctx, repo, removeAll, func(_ id.ID, err error) {
				fmt.Fprintf(cmd.ErrOrStderr(), "%v; left in place: `cairn unlock --remove-all` removes it\n", err)
			})
			if err != nil {
				return err
			}
			// Temporary files of killed writers (a lock cut off before
			// its rename, a backup's pack) go too; restic leaves them.
			temps := g.sweepTempFiles(ctx, repo, sweepStale)
			if g.JSON {
				return printJSONLine(cmd.OutOrStdout(), unlockJSON{"summary", n, temps})
			}
			if !g.Quiet && n > 0 { // as restic: nothing when no lock was removed
				fmt.Fprintf(cmd.OutOrStdout(), "successfully removed %d locks\n", n)
			}
			if !g.Quiet && temps > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %d stale temporary files\n", temps)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&removeAll, "remove-all", false, "remove all locks, even those of running processes")
	return cmd
}

// unlockJSON is cairn's unlock --json line (restic 0.19.1 prints nothing).
type unlockJSON struct {
	MessageType  string `json:"message_type"` // "summary"
	RemovedLocks int    `json:"removed_locks"`
	// RemovedTempFiles counts temporary files of killed or long-gone
	// writers.
	RemovedTempFiles int `json:"removed_temp_files"`
}
