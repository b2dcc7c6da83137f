package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/browse"
	"github.com/cairn-backup/cairn/internal/mount"
	"github.com/spf13/cobra"
)

type mountOptions struct {
	filter               snapshotFilterFlags
	AllowOther           bool
	NoDefaultPermissions bool
	OwnerRoot            bool
	PathTemplates        []string
	TimeTemplate         string
}

func newMountCommand(g *globalOptions) *cobra.Command {
	var o mountOptions
	cmd := &cobra.Command{
		Use:   "mount [flags] MOUNTPOINT",
		Short: "Mount the repository read-only",
		Long: `Mount the repository read-only through FUSE at MOUNTPOINT, an existing
directory, until Ctrl-C, SIGTERM or an umount of MOUNTPOINT. Snapshots are
arranged as restic arranges them, by path templates in which

  %i is the short snapshot ID    %I the long one
  %u the user name               %h the host name
  %t a tag (one path per tag)    %T the time, formatted by --time-template

The default templates are "ids/%i", "snapshots/%T", "hosts/%h/%T" and
"tags/%t/%T"; every directory of snapshots holds a "latest" link to the
newest. The time template is a Go layout of the time
"Mon Jan 2 15:04:05 -0700 MST 2006", for example "2006-01-02_15-04-05".
Snapshots made while mounted appear within a few seconds; file contents
are read from the repository as they are read from the mount, through a
cache of 64 MiB.` + exitStatusRepo,
		Example: `  cairn mount /mnt/backup
  cairn mount --host web1 --path-template 'by-day/%T' --time-template 2006-01-02 /mnt/backup`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMount(cmd, g, o, args[0])
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.AllowOther, "allow-other", false, "allow other users to access the data in the mounted directory")
	f.BoolVar(&o.NoDefaultPermissions, "no-default-permissions", false, "for 'allow-other', ignore Unix permissions and allow users to read all snapshot files")
	f.BoolVar(&o.OwnerRoot, "owner-root", false, "use 'root' as the owner of files and dirs")
	f.StringArrayVar(&o.PathTemplates, "path-template", nil, "set `template` for path names (can be specified multiple times)")
	f.StringVar(&o.TimeTemplate, "time-template", browse.DefaultTimeTemplate, "set `template` to use for times")
	return cmd
}

func runMount(cmd *cobra.Command, g *globalOptions, o mountOptions, mountpoint string) error {
	if fi, err := os.Stat(mountpoint); err != nil {
		return fmt.Errorf("mountpoint %s does not exist", mountpoint)
	} else if !fi.IsDir() {
		return fmt.Errorf("mountpoint %s is not a directory", mountpoint)
	}
	repo, ctx, release, err := g.openLocked(cmd.Context(), lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	warn := func(err error) { fmt.Fprintf(stderr, "warning: %v\n", err) }
	view, err := browse.New(repo, browse.Options{
		Filter:        o.filter.filter(),
		PathTemplates: o.PathTemplates,
		TimeTemplate:  o.TimeTemplate,
		Refresh:       time.Second,
		Reload:        func(ctx context.Context) error { _, err := repo.LoadIndex(ctx); return err },
		Warn:          warn,
	})
	if err != nil {
		return err
	}
	loc, _ := g.repository()
	srv, err := mount.Mount(mountpoint, view, mount.Options{
		AllowOther:           o.AllowOther,
		NoDefaultPermissions: o.NoDefaultPermissions,
		OwnerRoot:            o.OwnerRoot,
		Name:                 "cairn:" + strings.ReplaceAll(location.StripPassword(loc), ",", "_"),
		Warn:                 warn,
	})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !g.Quiet {
		fmt.Fprintf(out, "Now serving the repository at %s\n", mountpoint)
		fmt.Fprintln(out, "Use another terminal or tool to browse the contents of this folder.")
		fmt.Fprintln(out, "When finished, quit with Ctrl-c here or umount the mountpoint.")
	}
	done := make(chan struct{})
	go func() {
		srv.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil // unmounted from outside
	case <-ctx.Done():
	}
	// Ctrl-C, SIGTERM or a lost lock: unmount, retrying while the mount
	// is busy, then detach it lazily so that nothing stays behind.
	var uerr error
	for range 10 {
		if uerr = srv.Unmount(); uerr == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if uerr != nil {
		if err := syscall.Unmount(mountpoint, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", mountpoint, errors.Join(uerr, err))
		}
	}
	<-done
	if cmd.Context().Err() == nil {
		return fmt.Errorf("unmounted %s: %w", mountpoint, context.Cause(ctx)) // the lock was lost
	}
	return nil
}
