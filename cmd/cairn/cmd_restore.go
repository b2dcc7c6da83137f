package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/cairn-backup/cairn/internal/restorer"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
	"github.com/spf13/cobra"
)

type restoreOptions struct {
	filter   snapshotFilterFlags
	Target   string
	Include  []string
	Exclude  []string
	IInclude []string
	IExclude []string
	// Pattern files, read as backup's --exclude-file.
	IncludeFiles, ExcludeFiles, IIncludeFiles, IExcludeFiles []string
	IncludeXattr, ExcludeXattr                               []string
	OwnershipByName                                          bool
	Overwrite                                                string
	Delete                                                   bool
	Verify                                                   bool
	DryRun                                                   bool
	Sparse                                                   bool
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore [flags] SNAPSHOT[:PATH]",
		Short: "Restore a snapshot (or a path in it) into a directory",
		Long: `Restore a snapshot (or a path in it) into a directory.

SNAPSHOT is an ID, a unique ID prefix or "latest" (with --host, --tag and
--path to choose among snapshots). Existing files are compared chunk by
chunk and only what differs is fetched, so an interrupted restore can simply
be run again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd, g, o, args[0])
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.Target, "target", "t", "", "`directory` to restore into (required)")
	f.StringArrayVarP(&o.Include, "include", "i", nil, "restore only paths matching `pattern` (can be repeated)")
	f.StringArrayVarP(&o.Exclude, "exclude", "e", nil, "leave out paths matching `pattern` (can be repeated)")
	f.StringArrayVar(&o.IInclude, "iinclude", nil, "like --include, ignoring case")
	f.StringArrayVar(&o.IExclude, "iexclude", nil, "like --exclude, ignoring case")
	f.StringArrayVar(&o.IncludeFiles, "include-file", nil, "read include patterns from a `file` (can be repeated)")
	f.StringArrayVar(&o.ExcludeFiles, "exclude-file", nil, "read exclude patterns from a `file` (can be repeated)")
	f.StringArrayVar(&o.IIncludeFiles, "iinclude-file", nil, "like --include-file, ignoring case")
	f.StringArrayVar(&o.IExcludeFiles, "iexclude-file", nil, "like --exclude-file, ignoring case")
	f.StringArrayVar(&o.IncludeXattr, "include-xattr", nil, "restore only extended attributes matching `pattern` (can be repeated)")
	f.StringArrayVar(&o.ExcludeXattr, "exclude-xattr", nil, "leave out extended attributes matching `pattern` (can be repeated)")
	f.BoolVar(&o.OwnershipByName, "ownership-by-name", false, "restore file ownership by user name and group name (except POSIX ACLs)")
	f.StringVar(&o.Overwrite, "overwrite", "always", "existing files: always (rewrite what differs), if-changed, if-newer, never")
	f.BoolVar(&o.Delete, "delete", false, "delete files in the target that are not in the snapshot")
	f.BoolVar(&o.Verify, "verify", false, "read the restored files back and check them")
	f.BoolVarP(&o.DryRun, "dry-run", "n", false, "show what would be restored, change nothing")
	f.BoolVar(&o.Sparse, "sparse", false, "leave runs of zeros in new files as holes")
	return cmd
}

func runRestore(cmd *cobra.Command, g *globalOptions, o restoreOptions, ref string) error {
	ctx := cmd.Context()
	if o.Target == "" {
		return fmt.Errorf("please give a --target directory")
	}
	overwrite, err := restorer.ParseOverwrite(o.Overwrite)
	if err != nil {
		return err
	}
	sel, err := o.selector()
	if err != nil {
		return err
	}
	xattr, err := o.xattrFilter()
	if err != nil {
		return err
	}
	snapRef, sub, _ := strings.Cut(ref, ":")
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	sn, err := snapshot.Find(ctx, repo, snapRef, o.filter.filter(), warnDamaged(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	snapPath := path.Clean("/" + sub)
	if sel != nil && snapPath != "/" {
		// restic matches the patterns against paths below SNAPSHOT:PATH.
		inner := sel
		sel = func(p string, isDir bool) (bool, bool) {
			return inner("/"+strings.TrimPrefix(strings.TrimPrefix(p, snapPath), "/"), isDir)
		}
	}
	out := cmd.OutOrStdout()
	if !g.Quiet && !g.JSON {
		fmt.Fprintf(out, "restoring snapshot %s of %v at %s by %s@%s to %s\n", sn.ID.Str(), sn.Paths, sn.Time, sn.Username, sn.Hostname, o.Target)
	}
	prog := newProgress(cmd, g, restoreText{verbose: g.Verbose}, restoreJSON{}, g.Verbose > 1)
	defer prog.Finish()
	res := restorer.New(repo, restorer.Options{
		Target:    o.Target,
		Select:    sel,
		Overwrite: overwrite,
		Sparse:    o.Sparse,
		Delete:    o.Delete,
		DryRun:    o.DryRun,
		Progress:  prog,
		Xattr:     xattr,

		OwnershipByName: o.OwnershipByName,
	})
	var sum restorer.Summary
	if snapPath == "/" {
		sum, err = res.Run(ctx, *sn.Tree)
	} else {
		var node *tree.Node
		if node, err = walker.FindPath(ctx, repo, *sn.Tree, snapPath); err != nil {
			return err
		}
		sum, err = res.RunNode(ctx, snapPath, node)
	}
	if err != nil {
		return err
	}
	verified := 0
	if o.Verify && !o.DryRun {
		if verified, err = res.Verify(ctx); err != nil {
			return err
		}
	}
	prog.Finish()
	final := prog.Snapshot()
	switch {
	case g.JSON:
		if err := json.NewEncoder(out).Encode(newRestoreSummary(final)); err != nil {
			return err
		}
	default: // restic prints it even with --quiet
		fmt.Fprintln(out, restoreSummaryLine(final))
		if o.Verify {
			fmt.Fprintf(out, "verified %d files\n", verified)
		}
	}
	if n := final.Errors; n > 0 || sum.Errors > 0 {
		return fmt.Errorf("There were %d errors", max(n, uint64(sum.Errors)))
	}
	return nil
}

// xattrFilter turns --include-xattr or --exclude-xattr (not both, as in
// restic) into a restorer.Options.Xattr.
func (o restoreOptions) xattrFilter() (func(string) bool, error) {
	if len(o.IncludeXattr) > 0 && len(o.ExcludeXattr) > 0 {
		return nil, errors.New("exclude and include xattr patterns are mutually exclusive")
	}
	include := len(o.IncludeXattr) > 0
	pats, err := filter.ParsePatterns(append(o.IncludeXattr, o.ExcludeXattr...), false)
	if err != nil || len(pats) == 0 {
		return nil, err
	}
	return func(name string) bool { return filter.Match(pats, name) == include }, nil
}

// selector turns the include and exclude options into a restorer.Select.
func (o restoreOptions) selector() (func(string, bool) (bool, bool), error) {
	parse := func(a, b []string, fa, fb []string) ([]filter.Pattern, error) {
		for _, files := range []struct {
			names []string
			into  *[]string
		}{{fa, &a}, {fb, &b}} {
			for _, name := range files.names {
				lines, err := filter.ReadPatternFile(name)
				if err != nil {
					return nil, err
				}
				*files.into = append(append([]string{}, *files.into...), lines...)
			}
		}
		pa, err := filter.ParsePatterns(a, false)
		if err != nil {
			return nil, err
		}
		pb, err := filter.ParsePatterns(b, true)
		if err != nil {
			return nil, err
		}
		return append(pa, pb...), nil
	}
	incl, err := parse(o.Include, o.IInclude, o.IncludeFiles, o.IIncludeFiles)
	if err != nil {
		return nil, err
	}
	excl, err := parse(o.Exclude, o.IExclude, o.ExcludeFiles, o.IExcludeFiles)
	if err != nil {
		return nil, err
	}
	if len(incl) == 0 && len(excl) == 0 {
		return nil, nil
	}
	if len(incl) > 0 && len(excl) > 0 {
		return nil, errors.New("exclude and include patterns are mutually exclusive")
	}
	return func(p string, isDir bool) (bool, bool) {
		if len(excl) > 0 && filter.Match(excl, p) {
			return false, false
		}
		if len(incl) == 0 {
			return true, true
		}
		if isDir {
			matched, below := filter.MatchChildren(incl, p)
			return matched, matched || below
		}
		return filter.Match(incl, p), false
	}, nil
}
