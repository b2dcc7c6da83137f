package archiver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// groupParent is the newest snapshot of sn's group, not newer than sn.
func groupParent(all []*snapshot.Snapshot, sn *snapshot.Snapshot, g snapshot.Grouping) *snapshot.Snapshot {
	var best *snapshot.Snapshot
	for _, s := range all {
		switch {
		case s.Time.After(sn.Time),
			g.Host && s.Hostname != sn.Hostname,
			g.Paths && !sameSet(s.Paths, sn.Paths),
			g.Tags && !sameSet(s.Tags, sn.Tags):
			continue
		}
		if best == nil || s.Time.After(best.Time) {
			best = s
		}
	}
	return best
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// ListKind says how a list of paths to back up is written.
type ListKind uint8

// List kinds, as restic's --files-from, --files-from-verbatim and
// --files-from-raw read them.
const (
	ListPatterns ListKind = iota // one a line; # comments, blank lines skipped, globs expanded
	ListVerbatim                 // one a line, taken as they are (blank lines skipped)
	ListRaw                      // separated by NUL bytes, taken as they are
)

// ReadList reads the paths listed in file ("-" reads stdin) as kind says.
func ReadList(file string, kind ListKind, stdin io.Reader) ([]string, error) {
	if kind == ListPatterns {
		return readFilesFrom(file, stdin)
	}
	rd := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }()
		rd = f
	}
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	sep := "\n"
	if kind == ListRaw {
		sep = "\x00"
	}
	var out []string
	for _, p := range strings.Split(string(data), sep) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// ErrNoTargets is returned by Targets when none of the targets exists.
var ErrNoTargets = errors.New("all source directories/files do not exist")

// Targets returns the cleaned paths to back up: args, then the paths
// listed in each of filesFrom ("-" reads stdin), in the order given and
// without repeats. Relative targets stay relative: they shape the
// snapshot's tree as they do in restic. Targets that do not exist are
// returned in missing and left out; if none exists, that is an error.
func Targets(args, filesFrom []string, stdin io.Reader) (out, missing []string, err error) {
	paths := append([]string{}, args...)
	for _, file := range filesFrom {
		lines, err := readFilesFrom(file, stdin)
		if err != nil {
			return nil, nil, err
		}
		paths = append(paths, lines...)
	}
	if len(paths) == 0 {
		return nil, nil, errors.New("nothing to back up: give files or directories, --files-from or --stdin")
	}
	seen := map[string]bool{}
	for _, p := range paths {
		p = filepath.Clean(p)
		if _, err := os.Lstat(p); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return nil, nil, fmt.Errorf("backup target %s: %w", p, err)
			}
			if !seen[p] {
				seen[p] = true
				missing = append(missing, p)
			}
			continue
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, missing, ErrNoTargets
	}
	return out, missing, nil
}

// readFilesFrom reads one path per line, skipping blank lines and lines
// starting with #, and expands glob patterns as restic's --files-from does.
func readFilesFrom(file string, stdin io.Reader) ([]string, error) {
	rd := stdin
	if file != "-" {
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

// SnapshotOptions describe the snapshot a backup makes.
type SnapshotOptions struct {
	Paths []string // as recorded: the targets, or the stdin file's path
	Tags  []string
	// Hostname is recorded in the snapshot; "" means this host's name.
	Hostname string
	Time     time.Time
	// Parent names the parent snapshot; "" picks the latest snapshot of
	// the same host whose paths cover ours, unless NoParent is set.
	Parent   string
	NoParent bool
	// GroupBy, if set, chooses the parent as restic's --group-by does:
	// the newest snapshot not newer than Time of the same group (same
	// host, same set of paths, same set of tags, as GroupBy asks).
	// Otherwise snapshot.FindParent chooses.
	GroupBy *snapshot.Grouping
	// Damaged is told of each snapshot left out of the parent choice
	// because it cannot be read or decoded. If nil, such a snapshot fails
	// NewSnapshot.
	Damaged snapshot.DamagedFunc
}

// NewSnapshot returns the snapshot record of a backup, without tree, and
// its parent (nil if none), which is also recorded in it.
func NewSnapshot(ctx context.Context, repo snapshot.Repository, o SnapshotOptions) (sn, parent *snapshot.Snapshot, err error) {
	host := o.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	sn, err = snapshot.New(o.Paths, o.Tags, host, o.Time)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case o.Parent != "":
		if parent, err = snapshot.Find(ctx, repo, o.Parent, snapshot.Filter{}, o.Damaged); err != nil {
			return nil, nil, fmt.Errorf("parent snapshot %q: %w", o.Parent, err)
		}
	case !o.NoParent:
		all, err := snapshot.LoadAll(ctx, repo, o.Damaged)
		if err != nil {
			return nil, nil, err
		}
		if o.GroupBy != nil {
			parent = groupParent(all, sn, *o.GroupBy)
		} else {
			parent = snapshot.FindParent(all, sn.Hostname, sn.Paths, sn.Time)
		}
	}
	if parent != nil {
		sn.Parent = &parent.ID
	}
	return sn, parent, nil
}

// FillSnapshot completes sn after a backup: its tree root, the excludes it
// was made with, the program that made it, and the summary of the run sum
// and of what it stored.
func FillSnapshot(sn *snapshot.Snapshot, root id.ID, sum Summary, stored repository.WriteStats, excludes []string, program string) {
	sn.Tree = &root
	sn.Excludes = append([]string{}, excludes...)
	sn.ProgramVersion = program
	sn.Summary = &snapshot.Summary{
		BackupStart: sum.BackupStart, BackupEnd: sum.BackupEnd,
		FilesNew: sum.FilesNew, FilesChanged: sum.FilesChanged, FilesUnmodified: sum.FilesUnmodified,
		DirsNew: sum.DirsNew, DirsChanged: sum.DirsChanged, DirsUnmodified: sum.DirsUnmodified,
		DataBlobs: stored.DataBlobs, TreeBlobs: stored.TreeBlobs,
		DataAdded: stored.DataAdded, DataAddedPacked: stored.DataAddedPacked,
		TotalFilesProcessed: uint64(sum.TotalFilesProcessed), TotalBytesProcessed: sum.TotalBytesProcessed,
	}
}
