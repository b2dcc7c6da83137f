package main

import (
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "cairn",
		Short:         "Back up files into restic repositories, safely shared by many processes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.addFlags(root)
	root.AddCommand(
		newInitCommand(g),
		newBackupCommand(g),
		newSnapshotsCommand(g),
		newLsCommand(g),
		newRestoreCommand(g),
		newCacheCommand(g),
		newUnlockCommand(g),
		newTagCommand(g),
		newRepairCommand(g),
		newMigrateCommand(g),
		newRewriteCommand(g),
		newCopyCommand(g),
		newKeyCommand(g),
		newCatCommand(g),
		newListCommand(g),
		newDumpCommand(g),
		newFindCommand(g),
		newDiffCommand(g),
		newStatsCommand(g),
		newCheckCommand(g),
		newForgetCommand(g),
		newPruneCommand(g),
		newVersionCommand(g),
		newGenerateCommand(g),
	)
	return root
}
