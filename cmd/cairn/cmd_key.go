package main

import (
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/spf13/cobra"
)

type keyOptions struct {
	NewPasswordFile string
	User            string
	Host            string
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
		return c
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the keys",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return runKeyList(cmd, g) },
		},
		addFlags(&cobra.Command{
			Use:   "add",
			Short: "Add a key for a new password",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := runKeyAdd(cmd, g, o)
				return err
			},
		}),
		&cobra.Command{
			Use:   "remove ID",
			Short: "Remove a key (not the one in use)",
			Args:  cobra.ExactArgs(1),
			RunE:  func(cmd *cobra.Command, args []string) error { return runKeyRemove(cmd, g, args[0]) },
		},
		addFlags(&cobra.Command{
			Use:   "passwd",
			Short: "Change the password of the key in use",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return runKeyPasswd(cmd, g, o) },
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
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, " ID\tUser\tHost\tCreated")
	fmt.Fprintln(tw, "----------\t----\t----\t-------------------")
	for _, r := range rows {
		mark := " "
		if r.id == repo.KeyID() {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", mark, r.id.Str(), r.kf.Username, r.kf.Hostname, r.kf.Created.Local().Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}

func runKeyAdd(cmd *cobra.Command, g *globalOptions, o keyOptions) (id.ID, error) {
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockShared, false)
	if err != nil {
		return id.ID{}, err
	}
	defer release()
	pw, err := newPassword(cmd, o.NewPasswordFile, "", "NEW_")
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
		fmt.Fprintf(cmd.OutOrStdout(), "saved new key as %s\n", kid.Str())
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
	pw, err := newPassword(cmd, o.NewPasswordFile, "", "NEW_")
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
