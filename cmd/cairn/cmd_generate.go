package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

type generateOptions struct {
	Man        string
	Bash       string
	Fish       string
	Zsh        string
	PowerShell string
}

func newGenerateCommand(g *globalOptions) *cobra.Command {
	var o generateOptions
	cmd := &cobra.Command{
		Use:   "generate [flags]",
		Short: "Generate manual pages and shell completion files",
		Long: `Write files generated from cairn's commands and flags: manual pages (one
per command, into an existing directory) and completion scripts for bash,
fish, zsh and PowerShell ("-" writes a completion script to standard
output).` + exitStatus(),
		Example: `  cairn generate --man /usr/local/share/man/man1
  cairn generate --bash-completion /etc/bash_completion.d/cairn
  cairn generate --zsh-completion - > ~/.zfunc/_cairn`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGenerate(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Man, "man", "", "write man pages to `directory`")
	f.StringVar(&o.Bash, "bash-completion", "", "write bash completion `file` (`-` for stdout)")
	f.StringVar(&o.Fish, "fish-completion", "", "write fish completion `file` (`-` for stdout)")
	f.StringVar(&o.Zsh, "zsh-completion", "", "write zsh completion `file` (`-` for stdout)")
	f.StringVar(&o.PowerShell, "powershell-completion", "", "write powershell completion `file` (`-` for stdout)")
	return cmd
}

func runGenerate(cmd *cobra.Command, g *globalOptions, o generateOptions) error {
	if o == (generateOptions{}) {
		return errors.New("nothing to do, please specify at least one output file/dir")
	}
	root := cmd.Root()
	if o.Man != "" {
		if !g.Quiet {
			fmt.Fprintf(cmd.OutOrStdout(), "writing man pages to directory %s\n", o.Man)
		}
		header := &doc.GenManHeader{Title: "CAIRN", Section: "1", Source: "cairn " + version, Manual: "cairn manual"}
		if err := doc.GenManTree(root, header, o.Man); err != nil {
			return fmt.Errorf("write man pages: %w", err)
		}
	}
	for _, c := range []struct {
		file, shell string
		gen         func(io.Writer) error
	}{
		{o.Bash, "bash", func(w io.Writer) error { return root.GenBashCompletionV2(w, true) }},
		{o.Fish, "fish", func(w io.Writer) error { return root.GenFishCompletion(w, true) }},
		{o.Zsh, "zsh", root.GenZshCompletion},
		{o.PowerShell, "powershell", root.GenPowerShellCompletionWithDesc},
	} {
		if c.file == "" {
			continue
		}
		if err := writeGenerated(cmd, g, c.file, c.shell, c.gen); err != nil {
			return err
		}
	}
	return nil
}

// writeGenerated writes one completion script to file, or to stdout for
// "-".
func writeGenerated(cmd *cobra.Command, g *globalOptions, file, shell string, gen func(io.Writer) error) error {
	if file == "-" {
		return gen(cmd.OutOrStdout())
	}
	if !g.Quiet {
		fmt.Fprintf(cmd.OutOrStdout(), "writing %s completion file to %s\n", shell, file)
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("write %s completion: %w", shell, err)
	}
	if err := gen(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s completion: %w", shell, err)
	}
	return f.Close()
}
