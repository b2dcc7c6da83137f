package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// rootLong is the root command's help text; its EXIT STATUS section
// gives the codes scripts can rely on (restic's).
const rootLong = `cairn backs up files and directories into restic repositories: encrypted,
deduplicated snapshots that restic and cairn can both read and write, by any
number of processes at once.

EXIT STATUS
===========

0    the command succeeded.
1    the command failed (a fatal error; backup: no snapshot was written).
3    backup could not read some of its source files; the snapshot it wrote
     holds everything else.
10   there is no repository at the given location.
11   the repository could not be locked: another process holds a
     conflicting lock (and --retry-lock ran out), or a stale lock is in
     the way (see "cairn unlock").
12   the password is wrong (no key opens the repository).
130  the command was interrupted (SIGINT or SIGTERM).

Any other code means failure too.`

// usageError is a mistake on the command line (an unknown command or
// flag, a bad flag value). main prints it as is, as restic does: without
// "Fatal: " and not as JSON.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// asUsageError marks the command-line errors cobra returns; others pass.
func asUsageError(err error) error {
	var ue *usageError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	if strings.HasPrefix(err.Error(), "unknown command ") {
		return &usageError{err}
	}
	return err
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "cairn",
		Short:         "Back up files into restic repositories, safely shared by many processes",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
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
		newRecoverCommand(g),
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
		newMountCommand(g),
		newServeCommand(g),
		newVersionCommand(g),
		newOptionsCommand(),
		newGenerateCommand(g),
	)
	return root
}
