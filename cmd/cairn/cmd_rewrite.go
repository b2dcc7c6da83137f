package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/rewrite"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/spf13/cobra"
)

type rewriteOptions struct {
	filter        snapshotFilterFlags
	Excludes      []string
	IExcludes     []string
	ExcludeFiles  []string
	IExcludeFiles []string
	Includes      []string
	IIncludes     []string
	IncludeFiles  []string
	IIncludeFiles []string
	Forget        bool
	DryRun        bool
	NewHost       string
	NewTime       string
	Summary       bool
}

// rewriteMeta is what rewrite changes besides the tree.
type rewriteMeta struct {
	host    string
	time    time.Time // zero: unchanged
	summary bool      // add a summary where there is none
}

// apply changes sn and describes each change.
func (m rewriteMeta) apply(sn *snapshot.Snapshot) []string {
	var notes []string
	if m.host != "" && m.host != sn.Hostname {
		sn.Hostname = m.host
		notes = append(notes, "set hostname to "+m.host)
	}
	if !m.time.IsZero() && !m.time.Equal(sn.Time) {
		sn.Time = m.time
		notes = append(notes, "set time to "+m.time.String())
	}
	return notes
}

// parsePatternSet reads the patterns of the plain and case-folding options
// and their files.
func parsePatternSet(plain, folded, plainFiles, foldedFiles []string) ([]filter.Pattern, error) {
	var pats []filter.Pattern
	add := func(lines []string, fold bool) error {
		p, err := filter.ParsePatterns(lines, fold)
		pats = append(pats, p...)
		return err
	}
	if err := add(plain, false); err != nil {
		return nil, err
	}
	if err := add(folded, true); err != nil {
		return nil, err
	}
	for i, files := range [][]string{plainFiles, foldedFiles} {
		for _, f := range files {
			lines, err := filter.ReadPatternFile(f)
			if err != nil {
				return nil, err
			}
			if err := add(lines, i == 1); err != nil {
				return nil, err
			}
		}
	}
	return pats, nil
}

func newRewriteCommand(g *globalOptions) *cobra.Command {
	var o rewriteOptions
	cmd := &cobra.Command{
		Use:   "rewrite [flags] [snapshot ID] ...",
		Short: "Rewrite snapshots without excluded files, or with new metadata",
		Long: `Rewrite snapshots without the files the exclude options match, or with
only the files the include options match (the two cannot be combined), and
with a new host name or time (all snapshots matching the filters when no
IDs are given). --snapshot-summary adds a summary (the number and size of
the files) to snapshots written before restic 0.17. The new snapshots
record the ID of the one they come from ("original"); with --forget the
old ones are removed (run prune to free the space).

With --json, each new snapshot is a "changed" line and the last line a
"summary" (docs/json.md).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			excl, err := parsePatternSet(o.Excludes, o.IExcludes, o.ExcludeFiles, o.IExcludeFiles)
			if err != nil {
				return err
			}
			incl, err := parsePatternSet(o.Includes, o.IIncludes, o.IncludeFiles, o.IIncludeFiles)
			if err != nil {
				return err
			}
			meta := rewriteMeta{host: o.NewHost, summary: o.Summary}
			if o.NewTime != "" {
				if meta.time, err = parseFindTime(o.NewTime); err != nil {
					return fmt.Errorf("--new-time: %w", err)
				}
			}
			switch {
			case len(excl) > 0 && len(incl) > 0:
				return errors.New("exclude and include patterns are mutually exclusive")
			case len(excl) == 0 && len(incl) == 0 && meta.host == "" && meta.time.IsZero() && !meta.summary:
				return errors.New("nothing to do: no excludes/includes provided and no new metadata provided")
			}
			var node rewrite.NodeFunc
			switch {
			case len(excl) > 0:
				node = func(p string, n *tree.Node) *tree.Node {
					if filter.Match(excl, p) {
						return nil
					}
					return n
				}
			case len(incl) > 0:
				node = func(p string, n *tree.Node) *tree.Node {
					for a := p; a != "/" && a != "."; a = path.Dir(a) {
						if filter.Match(incl, a) {
							return n // it or a directory above it is included
						}
					}
					if n.Type == tree.TypeDir {
						if _, below := filter.MatchChildren(incl, p); below {
							return n
						}
					}
					return nil
				}
			}
			return runRewrite(cmd, g, o.filter, args, o.Forget, false, o.DryRun, meta, "rewrote", func(ctx context.Context, repo *repository.Repository, _ io.Writer) *rewrite.Rewriter {
				if node == nil {
					return nil
				}
				return &rewrite.Rewriter{Repo: repo, Node: node}
			})
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.StringArrayVarP(&o.Excludes, "exclude", "e", nil, "exclude a `pattern` (can be specified multiple times)")
	f.StringArrayVar(&o.IExcludes, "iexclude", nil, "same as --exclude `pattern` but ignores the casing of filenames")
	f.StringArrayVar(&o.ExcludeFiles, "exclude-file", nil, "read exclude patterns from a `file` (can be specified multiple times)")
	f.StringArrayVar(&o.IExcludeFiles, "iexclude-file", nil, "same as --exclude-file but ignores casing of filenames in patterns")
	f.StringArrayVarP(&o.Includes, "include", "i", nil, "include a `pattern` (can be specified multiple times)")
	f.StringArrayVar(&o.IIncludes, "iinclude", nil, "same as --include `pattern` but ignores the casing of filenames")
	f.StringArrayVar(&o.IncludeFiles, "include-file", nil, "read include patterns from a `file` (can be specified multiple times)")
	f.StringArrayVar(&o.IIncludeFiles, "iinclude-file", nil, "same as --include-file but ignores casing of filenames in patterns")
	f.StringVar(&o.NewHost, "new-host", "", "replace hostname")
	f.StringVar(&o.NewTime, "new-time", "", "replace time of the backup")
	f.BoolVarP(&o.Summary, "snapshot-summary", "s", false, "create snapshot summary record if it does not exist")
	f.BoolVar(&o.Forget, "forget", false, "remove original snapshots after creating new ones")
	f.BoolVarP(&o.DryRun, "dry-run", "n", false, "do not do anything, just print what would be done")
	return cmd
}

// rewriteChangedJSON and rewriteSummaryJSON are cairn's rewrite and
// repair snapshots --json lines (restic 0.19.1 prints text), in the shape
// of tag's.
type rewriteChangedJSON struct {
	MessageType   string `json:"message_type"` // "changed"
	OldSnapshotID string `json:"old_snapshot_id"`
	NewSnapshotID string `json:"new_snapshot_id,omitempty"` // empty in a dry run
}

type rewriteSummaryJSON struct {
	MessageType          string `json:"message_type"` // "summary"
	DryRun               bool   `json:"dry_run"`
	ChangedSnapshotCount int    `json:"changed_snapshot_count"`
	TotalSnapshotCount   int    `json:"total_snapshot_count"`
}

// runRewrite applies a tree rewriter (none if mk returns nil) and the
// metadata changes to the selected snapshots and saves the changed ones.
// A snapshot file that cannot be read or decoded is skipped with a
// warning, or, with removeDamaged, removed.
func runRewrite(cmd *cobra.Command, g *globalOptions, f snapshotFilterFlags, args []string, forget, removeDamaged, dryRun bool, meta rewriteMeta, verb string, mk func(ctx context.Context, repo *repository.Repository, warn io.Writer) *rewrite.Rewriter) error {
	ctx := cmd.Context()
	mode := lockShared
	if forget {
		mode = lockExclusive
	}
	if dryRun {
		mode = lockNone
	}
	repo, ctx, release, err := g.openLocked(ctx, mode, false)
	if err != nil {
		return err
	}
	defer release()
	onDamaged := warnDamaged(cmd.ErrOrStderr())
	var damaged []error
	if removeDamaged {
		onDamaged = func(_ id.ID, err error) { damaged = append(damaged, err) }
	}
	snaps, err := snapshot.Select(ctx, repo, args, f.filter(), onDamaged)
	if err != nil {
		return err
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	if err := repo.StartWriting(ctx, repository.WriteOptions{DryRun: dryRun}); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	prog, onTerminal := newTerminalStatus(out, g, rewriteText{}, len(snaps))
	defer prog.Finish()
	warn := cmd.ErrOrStderr()
	if onTerminal {
		warn = aboveStatus{prog}
	}
	rw := mk(ctx, repo, warn)
	type change struct {
		old, next *snapshot.Snapshot
		notes     []string
	}
	var changes []change
	for _, sn := range snaps {
		next := *sn
		nt, changed := *sn.Tree, false
		if rw != nil {
			nt, changed, err = rw.Rewrite(ctx, "/", *sn.Tree)
			if err != nil {
				_, _ = repo.Finish(ctx)
				return fmt.Errorf("snapshot %v: %w", sn.ID.Str(), err)
			}
		}
		next.Tree = &nt
		notes := meta.apply(&next)
		if meta.summary && next.Summary == nil {
			if next.Summary, err = rewrite.Summarize(ctx, repo, nt); err != nil {
				_, _ = repo.Finish(ctx)
				return fmt.Errorf("snapshot %v: %w", sn.ID.Str(), err)
			}
			notes = append(notes, "add a summary")
		}
		if changed || len(notes) > 0 {
			changes = append(changes, change{sn, &next, notes})
		}
		prog.AddFiles(1)
	}
	prog.Finish()
	if _, err := repo.Finish(ctx); err != nil {
		return err
	}
	text := out
	if g.JSON || g.Quiet {
		text = io.Discard
	}
	for _, c := range changes {
		line := rewriteChangedJSON{MessageType: "changed", OldSnapshotID: c.old.ID.String()}
		if dryRun {
			fmt.Fprintf(text, "would rewrite snapshot %s", c.old.ID.Str())
			for _, n := range c.notes {
				fmt.Fprintf(text, "; would %s", n)
			}
			fmt.Fprintln(text)
		} else {
			if c.next.Original == nil {
				orig := c.old.ID
				c.next.Original = &orig
			}
			sid, err := saveSnapshot(ctx, repo, c.next)
			if err != nil {
				return err
			}
			line.NewSnapshotID = sid.String()
			fmt.Fprintf(text, "snapshot %s -> %s\n", c.old.ID.Str(), sid.Str())
			if forget {
				if err := repo.RemoveSnapshot(ctx, c.old.ID); err != nil {
					return fmt.Errorf("remove snapshot %v: %w", c.old.ID.Str(), err)
				}
			}
		}
		if g.JSON {
			if err := printJSONLine(out, line); err != nil {
				return err
			}
		}
	}
	if err := removeDamagedSnapshots(ctx, repo, cmd.ErrOrStderr(), damaged, dryRun); err != nil {
		return err
	}
	if g.JSON {
		return printJSONLine(out, rewriteSummaryJSON{MessageType: "summary", DryRun: dryRun, ChangedSnapshotCount: len(changes), TotalSnapshotCount: len(snaps)})
	}
	fmt.Fprintf(text, "%s %d of %d snapshots\n", verb, len(changes), len(snaps))
	return nil
}

func newRepairSnapshotsCommand(g *globalOptions) *cobra.Command {
	var f snapshotFilterFlags
	var forget, dryRun bool
	cmd := &cobra.Command{
		Use:   "snapshots [flags] [snapshot ID] ...",
		Short: "Rewrite damaged snapshots without what is missing",
		Long: `Rewrite snapshots whose trees or file contents are missing or damaged:
a file whose data is missing is left out, a directory whose tree cannot be
loaded becomes empty. The new snapshots record their original; with
--forget the damaged ones are removed, and so is a snapshot file that
cannot be read or decoded at all (restic 0.19.1 leaves that one).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRepair(cmd, g, f, args, forget, dryRun)
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&forget, "forget", false, "remove the damaged snapshots")
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "show what would change, write nothing")
	return cmd
}

func runRepair(cmd *cobra.Command, g *globalOptions, f snapshotFilterFlags, args []string, forget, dryRun bool) error {
	return runRewrite(cmd, g, f, args, forget, forget, dryRun, rewriteMeta{}, "repaired", func(ctx context.Context, repo *repository.Repository, warn io.Writer) *rewrite.Rewriter {
		return &rewrite.Rewriter{
			Repo: repo,
			Node: func(p string, n *tree.Node) *tree.Node {
				if n.Type != tree.TypeFile {
					return n
				}
				for _, c := range n.Content {
					if !repo.HasBlob(blob.Handle{ID: c, Type: blob.Data}) {
						fmt.Fprintf(warn, "%s: data blob %v missing, file left out\n", p, c.Str())
						return nil
					}
				}
				return n
			},
			TreeError: func(p string, tid id.ID, err error) (id.ID, error) {
				fmt.Fprintf(warn, "%s: tree %v unreadable (%v), replaced by an empty directory\n", p, tid.Str(), err)
				return rewrite.EmptyTree(ctx, repo)
			},
		}
	})
}

// rewriteText is the status of rewrite and repair snapshots on a terminal:
// "[0:01] 50.00%  1 / 2 snapshots" (restic 0.19.1 shows none; the line
// goes when the snapshots are done). Problems are warnings, as they are
// printed without a terminal.
type rewriteText struct{}

func (rewriteText) StatusLines(s ui.Status) []string { return counterText{"snapshots"}.StatusLines(s) }
func (rewriteText) EventLine(ui.Event) string        { return "" }
func (rewriteText) ProblemLine(p ui.Problem) string  { return p.Err.Error() }

// aboveStatus writes warnings above the status line on a terminal (one
// line per write).
type aboveStatus struct{ prog *ui.Progress }

func (a aboveStatus) Write(b []byte) (int, error) {
	a.prog.Problem(ui.Problem{Err: errors.New(strings.TrimSuffix(string(b), "\n")), Warning: true})
	return len(b), nil
}
