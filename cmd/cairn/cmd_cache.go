package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/cairn-backup/cairn/internal/cache"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/spf13/cobra"
)

type cacheOptions struct {
	Cleanup bool
	MaxAge  uint
	NoSize  bool
}

func newCacheCommand(g *globalOptions) *cobra.Command {
	var o cacheOptions
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "List the local cache directories, or remove old ones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.NoCache {
				return errors.New("the cache command does not work with --no-cache")
			}
			base, err := g.cacheBase()
			if err != nil {
				return err
			}
			dirs, err := cache.ListDirs(base, !o.NoSize && !o.Cleanup)
			if err != nil {
				return fmt.Errorf("list %s: %w", base, err)
			}
			maxAge := time.Duration(o.MaxAge) * 24 * time.Hour
			out := cmd.OutOrStdout()
			if o.Cleanup {
				// Directories an earlier cleanup renamed and was killed
				// before deleting go first, whatever their age.
				n, err := cache.RemoveLeftovers(base)
				if err != nil {
					return fmt.Errorf("remove leftovers of an earlier cleanup in %s: %w", base, err)
				}
				for _, d := range dirs {
					if !d.Old(maxAge) {
						continue
					}
					if err := cache.RemoveDir(d); err != nil {
						return fmt.Errorf("remove %s: %w", d.Path, err)
					}
					n++
				}
				fmt.Fprintf(out, "removed %d old cache directories from %s\n", n, base)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "Repo ID\tLast Used\tOld\tSize")
			fmt.Fprintln(tw, "----------\t---------\t---\t----")
			for _, d := range dirs {
				old := ""
				if d.Old(maxAge) {
					old = "yes"
				}
				size := ""
				if d.Size >= 0 {
					size = ui.FormatBytes(uint64(d.Size))
				}
				fmt.Fprintf(tw, "%s\t%d days ago\t%s\t%s\n", d.ID[:10], int(time.Since(d.LastUsed).Hours()/24), old, size)
			}
			_ = tw.Flush()
			fmt.Fprintf(out, "%d cache directories in %s\n", len(dirs), base)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.Cleanup, "cleanup", false, "remove directories unused for --max-age days")
	cmd.Flags().UintVar(&o.MaxAge, "max-age", 30, "age in `days` after which a directory counts as old")
	cmd.Flags().BoolVar(&o.NoSize, "no-size", false, "do not compute directory sizes")
	return cmd
}
