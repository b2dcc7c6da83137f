package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/metrics"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

type backupOptions struct {
	Tags              []string
	Host              string
	Time              string
	Parent            string
	Force             bool
	IgnoreInode       bool
	IgnoreCtime       bool
	Excludes          []string
	IExcludes         []string
	ExcludeFiles      []string
	IExcludeFiles     []string
	ExcludeCaches     bool
	ExcludeIfPresent  []string
	ExcludeLargerThan string
	OneFileSystem     bool
	FilesFrom         []string
	Stdin             bool
	StdinFilename     string
	DryRun            bool
	PackSize          uint
	ReadConcurrency   int
	NoScan            bool
	SkipIfUnchanged   bool
	WithAtime         bool
	GroupBy           string
	FilesFromVerbatim []string
	FilesFromRaw      []string
	StdinFromCommand  bool

	groupByChanged bool // --group-by was given
	metrics        metricsFlag
	figures        *backupFigures // what --metrics-file reports
}

func newBackupCommand(g *globalOptions) *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup [flags] [FILE/DIR] ...",
		Short: "Create a new snapshot of files and directories",
		Long: `Create a new snapshot of files and directories.

Exit status is 0 on success, 1 on a fatal error, 3 if some source files
could not be read (the snapshot holds everything else), 130 if interrupted.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.groupByChanged = cmd.Flags().Changed("group-by")
			o.figures = &backupFigures{}
			return o.metrics.run(g, func() error { return runBackup(cmd, g, o, args) },
				func(r metrics.Run) *prometheus.Registry { return o.figures.registry(r, o, args) })
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Tags, "tag", nil, "add `tags` to the new snapshot, as tag[,tag,...] (can be repeated)")
	f.StringVarP(&o.Host, "host", "H", env("HOST"), "`hostname` to record in the snapshot (default: $CAIRN_HOST, $RESTIC_HOST, this host)")
	f.StringVar(&o.Time, "time", "", "`time` of the snapshot, as \"2006-01-02 15:04:05\" (default: now)")
	f.StringVar(&o.Parent, "parent", "", "`snapshot` to compare with for unchanged files (default: latest of this host and paths)")
	f.BoolVarP(&o.Force, "force", "f", false, "read every file, even when the parent has it unchanged")
	f.BoolVar(&o.IgnoreInode, "ignore-inode", false, "ignore inode changes when looking for changed files")
	f.BoolVar(&o.IgnoreCtime, "ignore-ctime", false, "ignore ctime changes when looking for changed files")
	f.StringArrayVarP(&o.Excludes, "exclude", "e", nil, "exclude a `pattern` (can be repeated)")
	f.StringArrayVar(&o.IExcludes, "iexclude", nil, "exclude a `pattern`, ignoring case (can be repeated)")
	f.StringArrayVar(&o.ExcludeFiles, "exclude-file", nil, "read exclude patterns from a `file` (can be repeated)")
	f.StringArrayVar(&o.IExcludeFiles, "iexclude-file", nil, "read case-insensitive exclude patterns from a `file` (can be repeated)")
	f.BoolVar(&o.ExcludeCaches, "exclude-caches", false, "exclude directories holding a CACHEDIR.TAG file")
	f.StringArrayVar(&o.ExcludeIfPresent, "exclude-if-present", nil, "exclude directories holding `filename[:header]` (can be repeated)")
	f.StringVar(&o.ExcludeLargerThan, "exclude-larger-than", "", "exclude files larger than `size` (e.g. 500K, 2M, 1G)")
	f.BoolVarP(&o.OneFileSystem, "one-file-system", "x", false, "do not cross file system boundaries")
	f.StringArrayVar(&o.FilesFrom, "files-from", nil, "read the paths to back up from a `file`, one per line (can be repeated)")
	f.BoolVar(&o.Stdin, "stdin", false, "back up standard input as one file")
	f.StringVar(&o.StdinFilename, "stdin-filename", "stdin", "`name` of the file backed up with --stdin")
	f.BoolVarP(&o.DryRun, "dry-run", "n", false, "do everything but write to the repository")
	f.UintVar(&o.PackSize, "pack-size", 0, "target pack size in `MiB` (default: $CAIRN_PACK_SIZE, $RESTIC_PACK_SIZE, 16)")
	f.IntVar(&o.ReadConcurrency, "read-concurrency", 0, "read `n` files at once (default: one per CPU, at least 2)")
	f.BoolVar(&o.NoScan, "no-scan", false, "do not run scanner to estimate size of backup")
	f.BoolVar(&o.SkipIfUnchanged, "skip-if-unchanged", false, "skip snapshot creation if identical to parent snapshot")
	f.BoolVar(&o.WithAtime, "with-atime", false, "store the atime for all files and directories")
	f.StringVarP(&o.GroupBy, "group-by", "g", "host,paths", "`group` snapshots by host, paths and/or tags, separated by comma, to choose the parent (disable grouping with '')")
	f.StringArrayVar(&o.FilesFromVerbatim, "files-from-verbatim", nil, "read the paths to back up from a `file`, one per line, taken as they are (can be repeated)")
	f.StringArrayVar(&o.FilesFromRaw, "files-from-raw", nil, "read the paths to back up from a `file`, separated by NUL bytes (can be repeated)")
	f.BoolVar(&o.StdinFromCommand, "stdin-from-command", false, "run the arguments as a command and back up its standard output as --stdin does")
	o.metrics.add(cmd)
	return cmd
}

func runBackup(cmd *cobra.Command, g *globalOptions, o backupOptions, args []string) error {
	// The backup reads the repository and the files while its lock is
	// being taken (stackSpec.early), unless it reads stdin, which it could
	// not read again: if a prune changed the index meanwhile, nothing was
	// written yet and it starts again under the lock.
	early := !o.Stdin && !o.StdinFromCommand
	err := runBackupOnce(cmd, g, o, args, early)
	if early && errors.Is(err, repository.ErrIndexChanged) {
		fmt.Fprintf(cmd.ErrOrStderr(), "%v; starting the backup again\n", err)
		err = runBackupOnce(cmd, g, o, args, false)
	}
	return err
}

func runBackupOnce(cmd *cobra.Command, g *globalOptions, o backupOptions, args []string, early bool) (err error) {
	ctx := cmd.Context()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var command []string
	if o.StdinFromCommand {
		if len(args) == 0 {
			return errors.New("no command was specified as argument")
		}
		command, args, o.Stdin = args, nil, true
	}
	targets, missing, err := backupTargets(o, args)
	for _, m := range missing {
		fmt.Fprintf(stderr, "%s does not exist, skipping\n", m)
	}
	if err != nil {
		return err
	}
	excluded, err := o.excludeFunc()
	if err != nil {
		return err
	}
	when := time.Now()
	if o.Time != "" {
		if when, err = time.ParseInLocation("2006-01-02 15:04:05", o.Time, time.Local); err != nil {
			return fmt.Errorf("invalid --time %q: %w", o.Time, err)
		}
	}
	packSize, err := packSizeBytes(o.PackSize)
	if err != nil {
		return err
	}
	var grouping *snapshot.Grouping
	if o.groupByChanged {
		gr, err := snapshot.ParseGrouping(o.GroupBy)
		if err != nil {
			return err
		}
		grouping = &gr
	}
	if o.Stdin && command == nil && g.PasswordFile == "" && g.PasswordCommand == "" && env("PASSWORD") == "" && env("PASSWORD_FILE") == "" && env("PASSWORD_COMMAND") == "" {
		return errors.New("cannot read both the password and the data from stdin")
	}
	// say prints restic's messages on stdout: never under --json or
	// --quiet, some only with -v.
	say := func(level int, format string, a ...any) {
		if !g.JSON && !g.Quiet && g.Verbose >= level {
			fmt.Fprintf(stdout, format+"\n", a...)
		}
	}

	mode := lockShared
	if o.DryRun {
		mode = lockNone // a dry run writes nothing, not even a lock
	}
	say(1, "open repository")
	repo, ctx, release, err := g.openMain(ctx, mode, early)
	if err != nil {
		return err
	}
	if early {
		// Runs after release, which waits until the lock was taken: a
		// backup that failed reading what a prune removed before the
		// lock was held starts again (runBackup), not a Ctrl-C.
		defer func() {
			if err != nil && cmd.Context().Err() == nil && !errors.Is(err, repository.ErrIndexChanged) {
				if cerr := repo.CheckIndexFiles(cmd.Context()); errors.Is(cerr, repository.ErrIndexChanged) {
					err = fmt.Errorf("%w (%v)", cerr, err)
				}
			}
		}()
	}
	defer release()
	if !o.DryRun {
		g.sweepTempFiles(ctx, repo, sweepDead) // left by killed processes of this host
	}
	var tags []string
	for _, t := range o.Tags {
		tags = append(tags, snapshot.ParseTagList(t)...)
	}
	paths := targets
	if o.Stdin {
		paths = []string{"/" + o.StdinFilename}
	}
	sn, parent, err := archiver.NewSnapshot(ctx, repo, archiver.SnapshotOptions{
		Paths: paths, Tags: tags, Hostname: backupHost(o.Host), Time: when,
		Parent: o.Parent, NoParent: o.Force || o.Stdin, GroupBy: grouping,
		Damaged: warnDamaged(cmd.ErrOrStderr()),
	})
	if err != nil {
		return err
	}
	switch {
	case parent != nil:
		say(0, "using parent snapshot %s", parent.ID.Str())
	case !o.Stdin:
		say(0, "no parent snapshot found, will read all files")
	}
	say(1, "load index files")
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	if o.Stdin {
		say(1, "read data from stdin")
	}
	shown := "[" + strings.Join(paths, " ") + "]"
	say(1, "start scan on %s", shown)
	say(1, "start backup on %s", shown)

	if err := repo.StartWriting(ctx, repository.WriteOptions{PackSize: packSize, DryRun: o.DryRun}); err != nil {
		return err
	}
	prog := newProgress(cmd, g, backupText{verbose: g.Verbose}, backupJSON{}, g.Verbose > 0)
	defer prog.Finish()
	arch := archiver.New(parentTrees{repo, prune.TreeLoader(repo)}, archiver.Options{
		Polynomial:    repo.Config().ChunkerPolynomial,
		Excluded:      excluded,
		OneFileSystem: o.OneFileSystem,
		Force:         o.Force,
		IgnoreInode:   o.IgnoreInode,
		IgnoreCtime:   o.IgnoreCtime,
		Workers:       o.ReadConcurrency,
		Progress:      prog,
		NoScan:        o.NoScan || !scanShown(cmd, g),
		WithAtime:     o.WithAtime,
	})
	var root id.ID
	var sum archiver.Summary
	switch {
	case command != nil:
		root, sum, err = backupCommand(ctx, arch, o.StdinFilename, command)
	case o.Stdin:
		root, sum, err = arch.RunStdin(ctx, o.StdinFilename, os.Stdin)
	default:
		var parentTree *id.ID
		if parent != nil {
			parentTree = parent.Tree
		}
		root, sum, err = arch.Run(ctx, targets, parentTree)
	}
	stats, ferr := repo.Finish(ctx)
	if err == nil {
		err = ferr
	}
	prog.Finish()
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause // the lock could not be taken, or was lost
		}
		return err
	}
	archiver.FillSnapshot(sn, root, sum, stats, append(append([]string{}, o.Excludes...), o.IExcludes...), "cairn "+version)
	var sid id.ID
	// --skip-if-unchanged: nothing differs from the parent, no snapshot.
	skipped := o.SkipIfUnchanged && parent != nil && parent.Tree != nil && *parent.Tree == root
	switch {
	case skipped:
	case o.DryRun:
		// restic reports the ID the snapshot file would have had; as its
		// encryption is random, the hash of the document stands in.
		doc, err := sn.Encode()
		if err != nil {
			return err
		}
		sid = id.Hash(doc)
	default:
		if sid, err = saveSnapshot(ctx, repo, sn); err != nil {
			return err
		}
	}
	o.figures.record(sn)
	switch {
	case g.JSON:
		if err := json.NewEncoder(stdout).Encode(newBackupSummary(sn.Summary, sid, skipped, o.DryRun)); err != nil {
			return err
		}
	case !g.Quiet:
		printBackupSummary(stdout, sn.Summary, sid, o.DryRun, skipped, g.Verbose)
	}
	if sum.Errors > 0 || len(missing) > 0 {
		return withExit(exitIncomplete, warningError{"Warning: at least one source file could not be read"})
	}
	return nil
}

// scanShown reports whether anything would show the scan's totals: the
// status lines (on a terminal, under --json, or with a progress rate set;
// never with --quiet) or the "scan finished" line of -v. restic scans
// regardless; cairn leaves the scan out when nobody sees it, which saves
// an lstat per file.
func scanShown(cmd *cobra.Command, g *globalOptions) bool {
	return g.Verbose > 0 || ui.Interval(g.Quiet, g.JSON, isTerminalWriter(cmd.OutOrStdout())) > 0
}

func saveSnapshot(ctx context.Context, repo *repository.Repository, sn *snapshot.Snapshot) (id.ID, error) {
	doc, err := sn.Encode()
	if err != nil {
		return id.ID{}, err
	}
	sid, err := repo.SaveUnpacked(ctx, backend.SnapshotFile, doc)
	if err != nil {
		return id.ID{}, fmt.Errorf("save snapshot: %w", err)
	}
	return sid, nil
}

// backupTargets returns the cleaned paths to back up, as given: relative
// targets shape the snapshot's tree as they do in restic.
func backupTargets(o backupOptions, args []string) (targets, missing []string, err error) {
	if o.Stdin {
		if len(args) > 0 || len(o.FilesFrom) > 0 {
			return nil, nil, errors.New("--stdin takes no paths")
		}
		if o.StdinFilename == "" || strings.Contains(o.StdinFilename, "/") {
			return nil, nil, fmt.Errorf("invalid --stdin-filename %q", o.StdinFilename)
		}
		return nil, nil, nil
	}
	for _, l := range []struct {
		files []string
		kind  archiver.ListKind
		flag  string
	}{{o.FilesFromVerbatim, archiver.ListVerbatim, "--files-from-verbatim"}, {o.FilesFromRaw, archiver.ListRaw, "--files-from-raw"}} {
		for _, file := range l.files {
			paths, err := archiver.ReadList(file, l.kind, os.Stdin)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", l.flag, err)
			}
			args = append(args, paths...)
		}
	}
	return archiver.Targets(args, o.FilesFrom, os.Stdin)
}

// backupCommand runs command and backs up its standard output as one
// file; the backup fails if the command does.
func backupCommand(ctx context.Context, arch *archiver.Archiver, name string, command []string) (id.ID, archiver.Summary, error) {
	c := exec.CommandContext(ctx, command[0], command[1:]...)
	c.Stderr = os.Stderr
	out, err := c.StdoutPipe()
	if err != nil {
		return id.ID{}, archiver.Summary{}, err
	}
	if err := c.Start(); err != nil {
		return id.ID{}, archiver.Summary{}, fmt.Errorf("unable to save snapshot: failed to save /%s: %w", name, err)
	}
	root, sum, err := arch.RunStdin(ctx, name, out)
	if werr := c.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("unable to save snapshot: failed to save /%s: command failed: %w", name, werr)
	}
	return root, sum, err
}

// excludeFunc combines every exclude option into one predicate.
func (o backupOptions) excludeFunc() (func(string, os.FileInfo) bool, error) {
	ex, err := filter.ParseExclude(filter.ExcludeSpec{
		Patterns: o.Excludes, IPatterns: o.IExcludes,
		PatternFiles: o.ExcludeFiles, IPatternFiles: o.IExcludeFiles,
		IfPresent: o.ExcludeIfPresent, Caches: o.ExcludeCaches,
	})
	if err != nil {
		return nil, err
	}
	if o.ExcludeLargerThan != "" {
		if ex.LargerThan, err = ui.ParseSize(o.ExcludeLargerThan); err != nil {
			return nil, fmt.Errorf("--exclude-larger-than: %w", err)
		}
	}
	return ex.Func(), nil
}

// packSizeBytes turns --pack-size (MiB) or the environment into bytes; 0
// means the default.
func packSizeBytes(mib uint) (int, error) {
	if mib == 0 {
		if v := env("PACK_SIZE"); v != "" {
			if _, err := fmt.Sscanf(v, "%d", &mib); err != nil {
				return 0, fmt.Errorf("invalid pack size %q", v)
			}
		}
	}
	if mib == 0 {
		return 0, nil
	}
	b := int(mib) << 20
	if b < repository.MinPackSize || b > repository.MaxPackSize {
		return 0, fmt.Errorf("pack size %d MiB out of range (%d to %d)", mib, repository.MinPackSize>>20, repository.MaxPackSize>>20)
	}
	return b, nil
}

// parentTrees is the repository as the archiver uses it, loading the
// parent snapshot's trees also from pending prunes' condemned packs (see
// prune.TreeLoader); what it may reuse is still only what the index has.
type parentTrees struct {
	*repository.Repository
	trees prune.BlobLoader
}

func (p parentTrees) LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error) {
	return p.trees.LoadBlob(ctx, h)
}
