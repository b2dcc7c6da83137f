package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/spf13/cobra"
)

type keyOptions struct {
	NewPasswordFile string
	User            string
	Host            string
	NewInsecure     bool
}

func newKeyCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the keys (passwords) of a repository",
	}
	var o keyOptions
	addFlags := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&o.NewPasswordFile, "new-password-file", "", "`file` with the new password (default: $CAIRN_NEW_PASSWORD_FILE or a prompt)")
		c.Flags().StringVar(&o.User, "user", "", "user `name` recorded in the new key (default: current user)")
		c.Flags().StringVar(&o.Host, "host", "", "host `name` recorded in the new key (default: this host)")
		c.Flags().BoolVar(&o.NewInsecure, "new-insecure-no-password", false, "give the new key the empty password (insecure)")
		return c
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the keys",
			Long: `List the repository's keys: ID, user, host and creation time, the key in
use marked with "*". With --json: one JSON array of objects with current,
id, userName, hostName and created, as restic prints it.` + exitStatusRepo,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runKeyList(cmd, g) },
		},
		addFlags(&cobra.Command{
			Use:   "add",
			Short: "Add a key for a new password",
			Long: `Add a key that opens the repository with a new password, read from
--new-password-file, $CAIRN_NEW_PASSWORD(_FILE), $RESTIC_NEW_PASSWORD(_FILE)
or the terminal; --new-insecure-no-password gives it the empty password.` + exitStatusRepo,
			Example: `  cairn key add --new-password-file /root/new-password
  cairn key add --user backup --host web1`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := runKeyAdd(cmd, g, o)
				return err
			},
		}),
		&cobra.Command{
			Use:   "remove ID",
			Short: "Remove a key (not the one in use)",
			Long:  "Remove the key with the given ID (or unique ID prefix); the key in use cannot be removed." + exitStatusRepo,
			Args:  cobra.ExactArgs(1),
			RunE:  func(cmd *cobra.Command, args []string) error { return runKeyRemove(cmd, g, args[0]) },
		},
		addFlags(&cobra.Command{
			Use:   "passwd",
			Short: "Change the password of the key in use",
			Long: `Replace the key in use by one for a new password (read as for key add);
the old password stops working.` + exitStatusRepo,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runKeyPasswd(cmd, g, o) },
		}),
	)
	return cmd
}

func runKeyList(cmd *cobra.Command, g *globalOptions) error {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	type row struct {
		id id.ID
		kf *repository.KeyFile
	}
	var rows []row
	err = repo.ListKeys(ctx, func(kid id.ID, kf *repository.KeyFile, err error) error {
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err)
			return nil
		}
		rows = append(rows, row{kid, kf})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].kf.Created.Before(rows[j].kf.Created) })
	out := cmd.OutOrStdout()
	if g.JSON {
		type keyJSON struct {
			Current  bool   `json:"current"`
			ID       string `json:"id"`
			UserName string `json:"userName"`
			HostName string `json:"hostName"`
			Created  string `json:"created"`
		}
		list := make([]keyJSON, 0, len(rows))
		for _, r := range rows {
			list = append(list, keyJSON{r.id == repo.KeyID(), r.id.String(), r.kf.Username, r.kf.Hostname, r.kf.Created.Local().Format(time.DateTime)})
		}
		return json.NewEncoder(out).Encode(list)
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, " ID\tUser\tHost\tCreated")
	for _, r := range rows {
		mark := " "
		if r.id == repo.KeyID() {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", mark, r.id.Str(), r.kf.Username, r.kf.Hostname, r.kf.Created.Local().Format(time.DateTime))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// As restic: a rule under the header and one after the rows, as wide
	// as the widest line.
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	width := 0
	for _, l := range lines {
		width = max(width, len(l))
	}
	rule := strings.Repeat("-", width)
	fmt.Fprintln(out, lines[0])
	fmt.Fprintln(out, rule)
	for _, l := range lines[1:] {
		fmt.Fprintln(out, l)
	}
	fmt.Fprintln(out, rule)
	return nil
}

func runKeyAdd(cmd *cobra.Command, g *globalOptions, o keyOptions) (id.ID, error) {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockShared, false)
	if err != nil {
		return id.ID{}, err
	}
	defer release()
	pw, err := newPassword(cmd, o.NewPasswordFile, "", "NEW_", o.NewInsecure)
	if err != nil {
		return id.ID{}, err
	}
	userName, host := currentUser()
	if o.User != "" {
		userName = o.User
	}
	if o.Host != "" {
		host = o.Host
	}
	kp, err := keyParams()
	if err != nil {
		return id.ID{}, err
	}
	kid, err := repo.AddKey(ctx, pw, userName, host, kp)
	if err != nil {
		return id.ID{}, err
	}
	if !g.Quiet {
		fmt.Fprintf(cmd.OutOrStdout(), "saved new key with ID %s\n", kid)
	}
	return kid, nil
}

func runKeyRemove(cmd *cobra.Command, g *globalOptions, prefix string) error {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockExclusive, false)
	if err != nil {
		return err
	}
	defer release()
	kid, err := repo.FindFile(ctx, backend.KeyFile, prefix)
	if err != nil {
		return err
	}
	if err := repo.RemoveKey(ctx, kid); err != nil {
		return err
	}
	if !g.Quiet {
		fmt.Fprintf(cmd.OutOrStdout(), "removed key %s\n", kid.Str())
	}
	return nil
}

func runKeyPasswd(cmd *cobra.Command, g *globalOptions, o keyOptions) error {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockExclusive, false)
	if err != nil {
		return err
	}
	defer release()
	pw, err := newPassword(cmd, o.NewPasswordFile, "", "NEW_", o.NewInsecure)
	if err != nil {
		return err
	}
	userName, host := currentUser()
	if o.User != "" {
		userName = o.User
	}
	if o.Host != "" {
		host = o.Host
	}
	kp, err := keyParams()
	if err != nil {
		return err
	}
	kid, err := repo.ChangePassword(ctx, pw, userName, host, kp)
	if err != nil {
		return err
	}
	if !g.Quiet {
		fmt.Fprintf(cmd.OutOrStdout(), "saved new key as %s\n", kid.Str())
	}
	return nil
}
