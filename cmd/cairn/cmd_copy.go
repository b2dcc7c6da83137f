package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/copier"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type copyOptions struct {
	filter           snapshotFilterFlags
	FromRepo         string
	FromPasswordFile string
	FromPasswordCmd  string
	FromKeyHint      string
	FromRepoFile     string
	FromInsecure     bool
}

func newCopyCommand(g *globalOptions) *cobra.Command {
	var o copyOptions
	cmd := &cobra.Command{
		Use:   "copy [flags] [snapshot ID] ...",
		Short: "Copy snapshots from another repository",
		Long: `Copy snapshots (all that match the filters when no IDs are given) from
--from-repo into this repository, with every blob they need. Snapshots
already copied are skipped. Both repositories should share the chunker
polynomial (init --copy-chunker-params) for later backups to deduplicate.

The source is --from-repo or the first line of --from-repository-file
(default: $CAIRN_FROM_REPOSITORY, $RESTIC_FROM_REPOSITORY, then the
..._FROM_REPOSITORY_FILE variables); its password comes from
--from-password-file, --from-password-command, the ..._FROM_PASSWORD*
variables, or is empty with --from-insecure-no-password.

With --json each copied snapshot is a "copied" line and the last line a
"summary" (docs/json.md; restic 0.19.1 prints text).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCopy(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.FromRepo, "from-repo", "", "source `repository` (default: $CAIRN_FROM_REPOSITORY, $RESTIC_FROM_REPOSITORY)")
	f.StringVar(&o.FromPasswordFile, "from-password-file", "", "`file` with the source repository's password")
	f.StringVar(&o.FromPasswordCmd, "from-password-command", "", "shell `command` printing the source repository's password")
	f.StringVar(&o.FromKeyHint, "from-key-hint", "", "`key` ID of the source repository to try first (default: $CAIRN_FROM_KEY_HINT, $RESTIC_FROM_KEY_HINT)")
	f.StringVar(&o.FromRepoFile, "from-repository-file", "", "`file` from which to read the source repository location (default: $CAIRN_FROM_REPOSITORY_FILE, $RESTIC_FROM_REPOSITORY_FILE)")
	f.BoolVar(&o.FromInsecure, "from-insecure-no-password", false, "use an empty password for the source repository (insecure)")
	return cmd
}

func runCopy(cmd *cobra.Command, g *globalOptions, o copyOptions, args []string) error {
	ctx := cmd.Context()
	from, err := o.source()
	if err != nil {
		return err
	}
	hint := o.FromKeyHint
	if hint == "" {
		hint = env("FROM_KEY_HINT")
	}
	src, ctx, srcRelease, err := g.openStack(ctx, stackSpec{
		loc: from,
		password: func(ctx context.Context) (string, error) {
			if o.FromInsecure {
				if _, found, _ := lookupPassword(ctx, o.FromPasswordFile, o.FromPasswordCmd, "FROM_"); found {
					return "", errors.New("--from-insecure-no-password must not be given together with a source repository password")
				}
				return "", nil
			}
			return resolvePassword(ctx, o.FromPasswordFile, o.FromPasswordCmd, "FROM_", "enter password for source repository: ")
		},
		opts:  repository.Options{KeyHint: hint},
		mode:  lockShared,
		label: "source",
	})
	if err != nil {
		return err
	}
	defer srcRelease()

	dst, ctx, release, err := g.openLocked(ctx, lockShared, false)
	if err != nil {
		return err
	}
	defer release()

	snaps, err := snapshot.Select(ctx, src, args, o.filter.filter(), warnDamaged(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	have, err := snapshot.LoadAll(ctx, dst, warnDamaged(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	if _, err := src.LoadIndex(ctx); err != nil {
		return err
	}
	if _, err := dst.LoadIndex(ctx); err != nil {
		return err
	}
	g.sweepTempFiles(ctx, dst, sweepDead) // left by killed processes of this host
	if err := dst.StartWriting(ctx, repository.WriteOptions{}); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	text := out
	if g.JSON {
		text = io.Discard
	}
	skipped := 0
	var toSave []*snapshot.Snapshot
	c := copier.New(src, dst)
	prog, onTerminal := newTerminalStatus(out, g, copyText{c}, len(snaps))
	for _, sn := range snaps {
		if slices.ContainsFunc(have, func(h *snapshot.Snapshot) bool { return copier.Copied(h, sn) }) {
			line := fmt.Sprintf("snapshot %s already copied, skipped", sn.ID.Str())
			if onTerminal {
				prog.Event(ui.Event{Item: line})
			} else {
				fmt.Fprintln(text, line)
			}
			skipped++
			prog.AddFiles(1)
			continue
		}
		if err := c.CopyTree(ctx, *sn.Tree); err != nil {
			prog.Finish()
			_, _ = dst.Finish(ctx)
			return fmt.Errorf("copy snapshot %v: %w", sn.ID.Str(), err)
		}
		toSave = append(toSave, sn)
		prog.AddFiles(1)
	}
	prog.Finish()
	if _, err := dst.Finish(ctx); err != nil {
		return err
	}
	for _, sn := range toSave {
		next := *sn
		if next.Original == nil {
			orig := sn.ID
			next.Original = &orig
		}
		sid, err := saveSnapshot(ctx, dst, &next)
		if err != nil {
			return err
		}
		fmt.Fprintf(text, "snapshot %s copied to %s\n", sn.ID.Str(), sid.Str())
		if g.JSON {
			if err := printJSONLine(out, copyCopiedJSON{"copied", sn.ID.String(), sid.String()}); err != nil {
				return err
			}
		}
	}
	if g.JSON {
		return printJSONLine(out, copySummaryJSON{"summary", len(toSave), skipped, c.Blobs()})
	}
	if !g.Quiet {
		fmt.Fprintf(out, "copied %d snapshots, %d blobs\n", len(toSave), c.Blobs())
	}
	return nil
}

// copyText is copy's status on a terminal: "[0:02] 50.00%  1 / 2
// snapshots, 120 blobs (30.000 MiB) copied". restic 0.19.1 counts the packs
// of each snapshot instead; cairn copies blob by blob.
type copyText struct{ c *copier.Copier }

func (f copyText) StatusLines(s ui.Status) []string {
	return []string{fmt.Sprintf("[%s] %s  %d / %d snapshots, %d blobs (%s) copied", ui.FormatDuration(s.Elapsed),
		ui.FormatPercent(s.Files, s.TotalFiles), s.Files, s.TotalFiles, f.c.Blobs(), ui.FormatBytes(f.c.Bytes()))}
}
func (copyText) EventLine(e ui.Event) string     { return e.Item }
func (copyText) ProblemLine(p ui.Problem) string { return problemLine(p) }

// newTerminalStatus starts a status of total items (count them with
// AddFiles) redrawn in place on out when out is a terminal, and neither
// --json nor --quiet is given; Finish removes it. Events (lines to print
// while it is shown) go above it. Elsewhere it shows nothing, not even
// events, and onTerminal is false: the caller prints its lines itself.
func newTerminalStatus(out io.Writer, g *globalOptions, format ui.Format, total int) (prog *ui.Progress, onTerminal bool) {
	var p ui.Printer = ui.Discard{}
	interval := time.Duration(0)
	if f, ok := out.(*os.File); ok && !g.JSON && !g.Quiet && isTerminalWriter(out) {
		t := &ui.Terminal{Out: out, Err: os.Stderr, Format: format}
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			t.Width = w
		}
		p, interval, onTerminal = t, ui.Interval(false, false, true), true
	}
	prog = ui.NewProgress(p, interval, onTerminal)
	prog.AddTotal(uint64(total), 0)
	prog.ScanFinished()
	return prog, onTerminal
}

// source returns the source repository's location: --from-repo,
// --from-repository-file, then the environment, as restic.
func (o copyOptions) source() (string, error) {
	if o.FromRepo != "" && o.FromRepoFile != "" {
		return "", errors.New("--from-repo and --from-repository-file are mutually exclusive")
	}
	if o.FromRepo != "" {
		return o.FromRepo, nil
	}
	file := o.FromRepoFile
	if file == "" {
		if r := env("FROM_REPOSITORY"); r != "" {
			return r, nil
		}
		file = env("FROM_REPOSITORY_FILE")
	}
	if file == "" {
		return "", errors.New("please specify a source repository location (--from-repo or --from-repository-file)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read source repository file: %w", err)
	}
	loc := strings.TrimSpace(string(b))
	if loc == "" {
		return "", fmt.Errorf("source repository file %s is empty", file)
	}
	return loc, nil
}

// copyCopiedJSON and copySummaryJSON are cairn's copy --json lines.
type copyCopiedJSON struct {
	MessageType      string `json:"message_type"` // "copied"
	SourceSnapshotID string `json:"source_snapshot_id"`
	NewSnapshotID    string `json:"new_snapshot_id"`
}

type copySummaryJSON struct {
	MessageType          string `json:"message_type"` // "summary"
	CopiedSnapshotCount  int    `json:"copied_snapshot_count"`
	SkippedSnapshotCount int    `json:"skipped_snapshot_count"`
	CopiedBlobs          int    `json:"copied_blobs"`
}
