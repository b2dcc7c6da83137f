package main

import (
	"fmt"

	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/spf13/cobra"
)

func newOptionsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "options",
		Short: "Print the extended options of every backend",
		Long: `Print every extended option (-o backend.name=value) that cairn's
backends take, with what it does, in restic's layout.` + exitStatus(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			opts := location.ExtendedOptions()
			width := 0
			for _, o := range opts {
				width = max(width, len(o.Name))
			}
			fmt.Fprintln(out, "All Extended Options:")
			for _, o := range opts {
				fmt.Fprintf(out, "  %-*s  %s\n", width, o.Name, o.Help)
			}
			return nil
		},
	}
}
