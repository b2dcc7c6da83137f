package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/ui"
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
			return runBackup(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Tags, "tag", nil, "add `tags` to the new snapshot, as tag[,tag,...] (can be repeated)")
	f.StringVarP(&o.Host, "host", "H", "", "`hostname` to record in the snapshot (default: this host)")
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
	return cmd
}

func runBackup(cmd *cobra.Command, g *globalOptions, o backupOptions, args []string) error {
	ctx := cmd.Context()
	targets, err := backupTargets(o, args)
	if err != nil {
		return err
	}
	excluded, err := o.excludeFunc()
	if err != nil {
		return err
	}
	host := o.Host
	if host == "" {
		host, _ = os.Hostname()
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
	if o.Stdin && g.PasswordFile == "" && g.PasswordCommand == "" && env("PASSWORD") == "" && env("PASSWORD_FILE") == "" && env("PASSWORD_COMMAND") == "" {
		return errors.New("cannot read both the password and the data from stdin")
	}

	mode := lockShared
	if o.DryRun {
		mode = lockNone // a dry run writes nothing, not even a lock
	}
	repo, ctx, release, err := g.openLocked(ctx, mode, false)
	if err != nil {
		return err
	}
	defer release()
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	var tags []string
	for _, t := range o.Tags {
		tags = append(tags, snapshot.ParseTagList(t)...)
	}
	paths := targets
	if o.Stdin {
		paths = []string{"/" + o.StdinFilename}
	}
	sn, err := snapshot.New(paths, tags, host, when)
	if err != nil {
		return err
	}
	parent, err := findParent(ctx, repo, o, sn)
	if err != nil {
		return err
	}
	if parent != nil {
		sn.Parent = &parent.ID
		if !g.Quiet {
			fmt.Fprintf(cmd.ErrOrStderr(), "using parent snapshot %s\n", parent.ID.Str())
		}
	}

	if err := repo.StartWriting(ctx, repository.WriteOptions{PackSize: packSize, DryRun: o.DryRun}); err != nil {
		return err
	}
	rep := newBackupReporter(cmd.ErrOrStderr())
	arch := archiver.New(repo, archiver.Options{
		Polynomial:    repo.Config().ChunkerPolynomial,
		Excluded:      excluded,
		OneFileSystem: o.OneFileSystem,
		Force:         o.Force,
		IgnoreInode:   o.IgnoreInode,
		IgnoreCtime:   o.IgnoreCtime,
		Workers:       o.ReadConcurrency,
		Reporter:      rep,
	})
	var root id.ID
	var sum archiver.Summary
	if o.Stdin {
		root, sum, err = arch.RunStdin(ctx, o.StdinFilename, os.Stdin)
	} else {
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
	if err != nil {
		return err
	}
	sn.Tree = &root
	sn.Excludes = append(append([]string{}, o.Excludes...), o.IExcludes...)
	sn.ProgramVersion = "cairn " + version
	sn.Summary = &snapshot.Summary{
		BackupStart: sum.BackupStart, BackupEnd: sum.BackupEnd,
		FilesNew: sum.FilesNew, FilesChanged: sum.FilesChanged, FilesUnmodified: sum.FilesUnmodified,
		DirsNew: sum.DirsNew, DirsChanged: sum.DirsChanged, DirsUnmodified: sum.DirsUnmodified,
		DataBlobs: stats.DataBlobs, TreeBlobs: stats.TreeBlobs,
		DataAdded: stats.DataAdded, DataAddedPacked: stats.DataAddedPacked,
		TotalFilesProcessed: uint64(sum.TotalFilesProcessed), TotalBytesProcessed: sum.TotalBytesProcessed,
	}
	var sid id.ID
	if !o.DryRun {
		if sid, err = saveSnapshot(ctx, repo, sn); err != nil {
			return err
		}
	}
	if !g.Quiet {
		printBackupSummary(cmd.OutOrStdout(), sn.Summary, sid, o.DryRun)
	}
	if sum.Errors > 0 {
		return withExit(exitIncomplete, fmt.Errorf("incomplete snapshot %s: %d source paths could not be read", sid.Str(), sum.Errors))
	}
	return nil
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

// findParent picks the parent snapshot: --parent, else none with --force,
// else the latest snapshot of the same host whose paths cover ours.
func findParent(ctx context.Context, repo *repository.Repository, o backupOptions, sn *snapshot.Snapshot) (*snapshot.Snapshot, error) {
	if o.Parent != "" {
		p, err := snapshot.Find(ctx, repo, o.Parent, snapshot.Filter{})
		if err != nil {
			return nil, fmt.Errorf("parent snapshot %q: %w", o.Parent, err)
		}
		return p, nil
	}
	if o.Force || o.Stdin {
		return nil, nil
	}
	all, err := snapshot.LoadAll(ctx, repo)
	if err != nil {
		return nil, err
	}
	return snapshot.FindParent(all, sn.Hostname, sn.Paths, sn.Time), nil
}

// backupTargets returns the cleaned paths to back up, as given: relative
// targets shape the snapshot's tree as they do in restic.
func backupTargets(o backupOptions, args []string) ([]string, error) {
	if o.Stdin {
		if len(args) > 0 || len(o.FilesFrom) > 0 {
			return nil, errors.New("--stdin takes no paths")
		}
		if o.StdinFilename == "" || strings.Contains(o.StdinFilename, "/") {
			return nil, fmt.Errorf("invalid --stdin-filename %q", o.StdinFilename)
		}
		return nil, nil
	}
	paths := append([]string{}, args...)
	for _, file := range o.FilesFrom {
		lines, err := readFilesFrom(file)
		if err != nil {
			return nil, err
		}
		paths = append(paths, lines...)
	}
	if len(paths) == 0 {
		return nil, errors.New("nothing to back up: give files or directories, --files-from or --stdin")
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		p = filepath.Clean(p)
		if _, err := os.Lstat(p); err != nil {
			return nil, fmt.Errorf("backup target %s: %w", p, err)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// readFilesFrom reads one path per line, skipping blank lines and lines
// starting with #, and expands glob patterns as restic's --files-from does.
func readFilesFrom(file string) ([]string, error) {
	var rd io.Reader
	if file == "-" {
		rd = os.Stdin
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--files-from: %w", err)
		}
		defer func() { _ = f.Close() }()
		rd = f
	}
	var out []string
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		matches, err := filepath.Glob(line)
		if err != nil || len(matches) == 0 {
			out = append(out, line)
			continue
		}
		out = append(out, matches...)
	}
	return out, sc.Err()
}

// excludeFunc combines every exclude option into one predicate.
func (o backupOptions) excludeFunc() (func(string, os.FileInfo) bool, error) {
	var patterns []filter.Pattern
	add := func(list []string, insensitive bool) error {
		ps, err := filter.ParsePatterns(list, insensitive)
		if err != nil {
			return err
		}
		patterns = append(patterns, ps...)
		return nil
	}
	if err := add(o.Excludes, false); err != nil {
		return nil, err
	}
	if err := add(o.IExcludes, true); err != nil {
		return nil, err
	}
	for i, files := range [][]string{o.ExcludeFiles, o.IExcludeFiles} {
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
	var present []filter.IfPresent
	for _, spec := range o.ExcludeIfPresent {
		p, err := filter.ParseIfPresent(spec)
		if err != nil {
			return nil, err
		}
		present = append(present, p)
	}
	var maxSize int64
	if o.ExcludeLargerThan != "" {
		n, err := ui.ParseSize(o.ExcludeLargerThan)
		if err != nil {
			return nil, fmt.Errorf("--exclude-larger-than: %w", err)
		}
		maxSize = n
	}
	if len(patterns) == 0 && len(present) == 0 && maxSize == 0 && !o.ExcludeCaches {
		return nil, nil
	}
	return func(path string, fi os.FileInfo) bool {
		if len(patterns) > 0 && filter.Match(patterns, path) {
			return true
		}
		if fi.IsDir() {
			if o.ExcludeCaches && filter.IsCacheDir(path) {
				return true
			}
			for _, p := range present {
				if p.Excludes(path) {
					return true
				}
			}
		}
		return maxSize > 0 && fi.Mode().IsRegular() && fi.Size() > maxSize
	}, nil
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
