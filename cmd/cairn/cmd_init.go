package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/restic/chunker"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type initOptions struct {
	RepositoryVersion string
	CopyChunkerParams bool
	FromRepo          string
	FromPasswordFile  string
	FromPasswordCmd   string
	FromKeyHint       string
	FromRepoFile      string
	FromInsecure      bool
}

func newInitCommand(g *globalOptions) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a new repository",
		Long: `Create a new repository at the location -r/--repo (or $CAIRN_REPOSITORY,
$RESTIC_REPOSITORY) gives, with a first key for the password. The
repository is in restic's format, which restic reads and writes too.

With --copy-chunker-params the new repository takes the chunker polynomial
of the repository --from-repo names, so that copying snapshots between the
two deduplicates. With --json one line of message_type "initialized" tells
the new repository's ID and location.` + exitStatus(),
		Example: `  cairn -r /srv/backup init
  cairn -r /srv/backup init --insecure-no-password
  cairn -r /srv/copy init --copy-chunker-params --from-repo /srv/backup`,
		Args: cobra.NoArgs,
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
	f.StringVar(&o.FromKeyHint, "from-key-hint", "", "`key` ID of the source repository to try first (default: $CAIRN_FROM_KEY_HINT, $RESTIC_FROM_KEY_HINT)")
	f.StringVar(&o.FromRepoFile, "from-repository-file", "", "`file` to read the source repository location from (default: $CAIRN_FROM_REPOSITORY_FILE, $RESTIC_FROM_REPOSITORY_FILE)")
	f.BoolVar(&o.FromInsecure, "from-insecure-no-password", false, "use an empty password for the source repository (insecure)")
	return cmd
}

func parseRepoVersion(s string) (uint, error) {
	switch s {
	case "1":
		return 1, nil
	case "2", "stable", "latest", "":
		return 2, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return 0, errors.New("only repository versions between 1 and 2 are allowed")
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
	pw, err := newPassword(cmd, g.PasswordFile, g.PasswordCommand, "", g.InsecureNoPassword)
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
	if g.JSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(struct {
			MessageType string `json:"message_type"`
			ID          string `json:"id"`
			Repository  string `json:"repository"`
		}{"initialized", repo.Config().ID, location.StripPassword(loc)})
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
	from, err := fromRepository(o.FromRepo, o.FromRepoFile)
	if err != nil {
		return 0, err
	}
	if from == "" {
		return 0, errors.New("please specify a source repository location (--from-repo or --from-repository-file)")
	}
	be, err := g.openBackend(cmd.Context(), from, false)
	if err != nil {
		return 0, err
	}
	pw, err := fromPassword(cmd.Context(), o.FromPasswordFile, o.FromPasswordCmd, o.FromInsecure)
	if err != nil {
		return 0, err
	}
	repo, err := repository.Open(cmd.Context(), be, pw, repository.Options{KeyHint: fromKeyHint(o.FromKeyHint)})
	if err != nil {
		return 0, fmt.Errorf("open source repository %s: %w", from, err)
	}
	return repo.Config().ChunkerPolynomial, nil
}

// newPassword reads a password for a new key: from the given file or
// command or the environment, or from the terminal (twice, to catch a
// typo), or the first line of standard input when it is no terminal. With
// insecure the password is "" and giving one is an error.
func newPassword(cmd *cobra.Command, file, command, envPrefix string, insecure bool) (string, error) {
	pw, found, err := lookupPassword(cmd.Context(), file, command, envPrefix)
	if err != nil {
		return "", err
	}
	if insecure {
		if found && pw != "" {
			return "", errors.New("--insecure-no-password must not be specified together with providing a password via a cli option or environment variable")
		}
		return "", nil
	}
	if !found {
		if pw, err = promptPassword("enter password for new repository key: "); err != nil {
			return "", err
		}
		if term.IsTerminal(int(os.Stdin.Fd())) {
			again, err := promptPassword("enter password again: ")
			if err != nil {
				return "", err
			}
			if again != pw {
				return "", errors.New("passwords do not match")
			}
		}
	}
	if pw == "" {
		return "", errEmptyPassword
	}
	return pw, nil
}
