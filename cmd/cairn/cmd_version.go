package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
)

func newVersionCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version information",
		Long: `Print cairn's version, the Go version it was built with and the
operating system and architecture it runs on. With --json the same facts
come as one JSON object of message_type "version", as restic prints it.` + exitStatus(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if g.JSON {
				return json.NewEncoder(out).Encode(struct {
					MessageType string `json:"message_type"`
					Version     string `json:"version"`
					GoVersion   string `json:"go_version"`
					GoOS        string `json:"go_os"`
					GoArch      string `json:"go_arch"`
				}{"version", version, runtime.Version(), runtime.GOOS, runtime.GOARCH})
			}
			_, err := fmt.Fprintf(out, "cairn %s compiled with %s on %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// exitMeaning says, in a few words, what each exit code tells a script.
// The codes are restic's.
var exitMeaning = map[int]string{
	exitOK:          "the command succeeded",
	exitFatal:       "the command failed (any error not listed here)",
	exitIncomplete:  "a snapshot was saved, but some source files could not be read",
	exitNoRepo:      "no repository exists at the given location",
	exitLocked:      "another process holds a conflicting lock on the repository",
	exitWrongPass:   "the password opens none of the repository's keys",
	exitInterrupted: "the command was interrupted (SIGINT or SIGTERM)",
}

// exitStatus renders the EXIT STATUS section that ends a command's long
// help, for the given codes (0, 1 and 130 are always listed).
func exitStatus(codes ...int) string {
	all := append([]int{exitOK, exitFatal}, codes...)
	all = append(all, exitInterrupted)
	s := "\n\nEXIT STATUS\n===========\n\n"
	for _, c := range all {
		s += fmt.Sprintf("%-4d %s.\n", c, exitMeaning[c])
	}
	return strings.TrimSuffix(s, "\n")
}

// exitStatusRepo is exitStatus for commands that open a repository.
var exitStatusRepo = exitStatus(exitNoRepo, exitLocked, exitWrongPass)
