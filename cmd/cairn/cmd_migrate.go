package main

import (
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/internal/checker"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/spf13/cobra"
)

func newMigrateCommand(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "migrate [flags] [migration name] [...]",
		Short: "Apply migrations",
		Long: `Without arguments, list the migrations that can be applied to the
repository. With names, apply those migrations in turn; the one there is,
upgrade_repo_v2, makes a version 1 repository version 2 (compression) after
checking the repository. A migration that does not apply (the repository
is already version 2) is skipped with a warning unless --force asks to
apply it anyway; an unknown name is skipped with a warning.` + exitStatusRepo,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMigrate(cmd, g, force, args)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "apply a migration a second time")
	return cmd
}

const migrateV2 = "upgrade_repo_v2"

func runMigrate(cmd *cobra.Command, g *globalOptions, force bool, args []string) error {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockExclusive, false)
	if err != nil {
		return err
	}
	defer release()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	printf := func(format string, a ...any) { // restic's progress lines
		if !g.Quiet {
			fmt.Fprintf(out, format, a...)
		}
	}
	if len(args) == 0 {
		printf("available migrations:\n")
		if repo.Config().Version < 2 {
			printf("  %s\tupgrade a repository to version 2\n", migrateV2)
		} else {
			printf("no migrations found\n")
		}
		return nil
	}
	var first error
	for _, name := range args {
		if name != migrateV2 {
			fmt.Fprintf(errOut, "unknown migration %s\n", name)
			continue
		}
		if v := repo.Config().Version; v >= 2 {
			if !force {
				fmt.Fprintf(errOut, "migration %s cannot be applied: repository is already upgraded to version %d\nIf you want to apply this migration anyway, re-run with option --force\n", name, v)
				continue
			}
			fmt.Fprintf(errOut, "check for migration %s failed, continuing anyway\n", name)
		}
		printf("checking repository integrity...\n")
		if err := migrateCheck(cmd, g, repo); err != nil {
			return err
		}
		printf("applying migration %s...\n", name)
		if v := repo.Config().Version; v >= 2 {
			// What restic does with --force: the migration itself refuses.
			msg := fmt.Sprintf("repository has version %d, only upgrades from version 1 are supported", v)
			fmt.Fprintf(errOut, "migration %s failed: %s\n", name, msg)
			if first == nil {
				first = warningError{msg} // restic prints it without "Fatal: "
			}
			continue
		}
		if err := repo.UpgradeToV2(ctx); err != nil {
			fmt.Fprintf(errOut, "migration %s failed: %v\n", name, err)
			if first == nil {
				first = err
			}
			continue
		}
		printf("migration %s: success\n", name)
	}
	return first
}

// migrateCheck checks the repository's index, packs and trees before a
// migration, as restic does, printing check's phases in text mode.
func migrateCheck(cmd *cobra.Command, g *globalOptions, repo *repository.Repository) error {
	ctx := cmd.Context()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	phase := func(s string) {
		if !g.Quiet && !g.JSON {
			fmt.Fprintln(out, s)
		}
	}
	c := checker.New(repo, func(f checker.Finding) {
		if f.Severity == checker.Error {
			fmt.Fprintf(errOut, "error: %v\n", f)
		}
	})
	phase("load indexes")
	if err := c.LoadIndex(ctx); err != nil {
		return err
	}
	phase("check all packs")
	if err := c.Packs(ctx); err != nil {
		return err
	}
	phase("check snapshots, trees and blobs")
	if err := c.Structure(ctx); err != nil {
		return err
	}
	if c.Errors() > 0 {
		return errors.New("repository contains errors")
	}
	phase("no errors were found")
	return nil
}
