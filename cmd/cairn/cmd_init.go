package main

import (
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/restic/chunker"
	"github.com/spf13/cobra"
)

type initOptions struct {
	RepositoryVersion string
	CopyChunkerParams bool
	FromRepo          string
	FromPasswordFile  string
	FromPasswordCmd   string
	FromKeyHint       string
}

func newInitCommand(g *globalOptions) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a new repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.RepositoryVersion, "repository-version", "stable", "repository format `version`: 1, 2, stable (2) or latest (2)")
	f.BoolVar(&o.CopyChunkerParams, "copy-chunker-params", false, "copy the chunker polynomial from --from-repo, so that copy deduplicates")
	f.StringVar(&o.FromRepo, "from-repo", "", "source `repository` for --copy-chunker-params (default: $CAIRN_FROM_REPOSITORY, $RESTIC_FROM_REPOSITORY)")
	f.StringVar(&o.FromPasswordFile, "from-password-file", "", "`file` with the source repository's password")
	f.StringVar(&o.FromPasswordCmd, "from-password-command", "", "shell `command` printing the source repository's password")
	f.StringVar(&o.FromKeyHint, "from-key-hint", "", "`key` ID of the source repository to try first")
	return cmd
}

func parseRepoVersion(s string) (uint, error) {
	switch s {
	case "1":
		return 1, nil
	case "2", "stable", "latest", "":
		return 2, nil
	}
	return 0, fmt.Errorf("invalid repository version %q (want 1, 2, stable or latest)", s)
}

func runInit(cmd *cobra.Command, g *globalOptions, o initOptions) error {
	ctx := cmd.Context()
	ver, err := parseRepoVersion(o.RepositoryVersion)
	if err != nil {
		return err
	}
	loc, err := g.repository()
	if err != nil {
		return err
	}
	opts, err := g.repoOptions()
	if err != nil {
		return err
	}
	var pol chunker.Pol
	if o.CopyChunkerParams {
		if pol, err = sourcePolynomial(cmd, g, o); err != nil {
			return err
		}
	}
	pw, err := newPassword(cmd, g.PasswordFile, g.PasswordCommand, "")
	if err != nil {
		return err
	}
	kp, err := keyParams()
	if err != nil {
		return err
	}
	be, err := g.openBackend(ctx, loc, true)
	if err != nil {
		return fmt.Errorf("create repository at %s: %w", location.StripPassword(loc), err)
	}
	userName, host := currentUser()
	repo, err := repository.Init(ctx, be, pw, repository.InitOptions{Version: ver, Poly: pol, Username: userName, Hostname: host, Params: kp}, opts)
	if err != nil {
		return fmt.Errorf("create repository at %s: %w", location.StripPassword(loc), err)
	}
	if !g.Quiet {
		fmt.Fprintf(cmd.OutOrStdout(), "created cairn repository %s (version %d) at %s\n\n"+
			"Please note that knowledge of your password is required to access\n"+
			"the repository. Losing your password means that your data is\n"+
			"irrecoverably lost.\n", repo.Config().ID[:10], ver, location.StripPassword(loc))
	}
	return nil
}

// sourcePolynomial opens --from-repo and returns its chunker polynomial.
func sourcePolynomial(cmd *cobra.Command, g *globalOptions, o initOptions) (chunker.Pol, error) {
	from := o.FromRepo
	if from == "" {
		from = env("FROM_REPOSITORY")
	}
	if from == "" {
		return 0, errors.New("--copy-chunker-params needs --from-repo")
	}
	src := &globalOptions{Repo: from, PasswordFile: o.FromPasswordFile, PasswordCommand: o.FromPasswordCmd, KeyHint: o.FromKeyHint}
	be, err := g.openBackend(cmd.Context(), from, false)
	if err != nil {
		return 0, err
	}
	pw, err := resolvePassword(cmd.Context(), src.PasswordFile, src.PasswordCommand, "FROM_", "enter password for source repository: ")
	if err != nil {
		return 0, err
	}
	repo, err := repository.Open(cmd.Context(), be, pw, repository.Options{KeyHint: src.KeyHint})
	if err != nil {
		return 0, fmt.Errorf("open source repository %s: %w", from, err)
	}
	return repo.Config().ChunkerPolynomial, nil
}

// newPassword reads a password for a new key: from the given file or
// command or the environment, or twice from the terminal.
func newPassword(cmd *cobra.Command, file, command, envPrefix string) (string, error) {
	pw, found, err := lookupPassword(cmd.Context(), file, command, envPrefix)
	if err != nil {
		return "", err
	}
	if !found {
		if pw, err = promptPassword("enter password for new repository key: "); err != nil {
			return "", err
		}
		again, err := promptPassword("enter password again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("passwords do not match")
		}
	}
	if pw == "" {
		return "", errors.New("an empty password is not allowed")
	}
	return pw, nil
}
