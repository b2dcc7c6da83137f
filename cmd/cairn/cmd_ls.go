package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/listing"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/cairn-backup/cairn/internal/walker"
	"github.com/spf13/cobra"
)

type lsOptions struct {
	filter    snapshotFilterFlags
	Long      bool
	Recursive bool
	Sort      string
	Reverse   bool
	Ncdu      bool
	Human     bool
}

func newLsCommand(g *globalOptions) *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls [flags] SNAPSHOT [DIR...]",
		Short: "List the files in a snapshot",
		Long: `List the files and directories of a snapshot ("latest" is the newest one
that --host, --tag and --path select). Without DIR the whole tree is
listed; with DIRs (absolute paths inside the snapshot, "/" separated) each
DIR itself and its direct children, or everything below it with
--recursive.

--sort orders by name (the default, the snapshot's own order), size,
time (= mtime), atime, ctime or extension; --reverse reverses. --ncdu
writes ncdu's export format instead ("cairn ls latest --ncdu | ncdu -f -").
With --json: one line for the snapshot, then one line per node, as restic
prints them.` + exitStatusRepo,
		Example: `  cairn ls latest
  cairn ls latest /home/me --recursive --sort size --reverse
  cairn ls 1a2b3c4d /etc -l --human-readable`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.Long, "long", "l", false, "use a long listing format: mode, numeric owner and group, size and time")
	f.BoolVar(&o.Recursive, "recursive", false, "with DIRs, list everything below them, not only their direct children")
	o.Sort = "name"
	f.VarP((*sortFlag)(&o.Sort), "sort", "s", "sort output by `mode`: name, size, time (= mtime), atime, ctime or extension")
	f.BoolVar(&o.Reverse, "reverse", false, "reverse the sorted output")
	f.BoolVar(&o.Ncdu, "ncdu", false, "write the ncdu export format (pipe into 'ncdu -f -')")
	f.BoolVar(&o.Human, "human-readable", false, "print sizes with units (with --long)")
	return cmd
}

// sortFlag checks --sort while the flags are parsed, as restic does.
type sortFlag string

func (s *sortFlag) String() string { return string(*s) }
func (s *sortFlag) Type() string   { return "mode" }
func (s *sortFlag) Set(v string) error {
	m, err := listing.ParseSort(v)
	if err != nil {
		return err
	}
	*s = sortFlag(m)
	return nil
}

func runLs(cmd *cobra.Command, g *globalOptions, o lsOptions, args []string) error {
	mode, err := listing.ParseSort(o.Sort)
	if err != nil {
		return err
	}
	if o.Ncdu && g.JSON {
		return errors.New("only either '--json' or '--ncdu' can be specified")
	}
	if o.Ncdu && (cmd.Flags().Changed("sort") || o.Reverse) {
		return errors.New("--sort and --ncdu are mutually exclusive")
	}
	dirs := args[1:]
	filter, err := listing.NewFilter(dirs, o.Recursive)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	sn, err := snapshot.Find(ctx, repo, args[0], o.filter.filter(), warnDamaged(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.Ncdu {
		return lsNcdu(ctx, repo, out, sn, filter)
	}
	if g.JSON {
		if err := json.NewEncoder(out).Encode(lsSnapshotJSON{snapshotJSON{sn, sn.ID.String(), sn.ID.Str()}, "snapshot", "snapshot"}); err != nil {
			return err
		}
	} else {
		if dirs == nil {
			dirs = []string{}
		}
		fmt.Fprintf(out, "snapshot %s of %v at %s by %s@%s filtered by %v:\n", sn.ID.Str(), sn.Paths,
			sn.Time.Local().Format("2006-01-02 15:04:05.999999999 -0700 MST"), sn.Username, sn.Hostname, dirs)
	}
	var entries []listing.Entry
	show := func(e listing.Entry) error {
		if g.JSON {
			return json.NewEncoder(out).Encode(lsNodeJSONOf(e))
		}
		printNode(out, e, o.Long, o.Human)
		return nil
	}
	sorted := mode != "name" || o.Reverse
	err = lsWalk(ctx, repo, "/", *sn.Tree, filter, func(p string, n *tree.Node) error {
		e := listing.Entry{Path: p, Node: n}
		if sorted {
			entries = append(entries, e)
			return nil
		}
		return show(e)
	}, nil)
	if err != nil {
		return err
	}
	listing.Sort(entries, mode, o.Reverse)
	for _, e := range entries {
		if err := show(e); err != nil {
			return err
		}
	}
	return nil
}

// lsWalk calls fn for every node below the tree tid that the filter
// shows, in name order, and leave (if set) after a shown directory's
// children.
func lsWalk(ctx context.Context, repo *repository.Repository, dir string, tid id.ID, f *listing.Filter, fn func(string, *tree.Node) error, leave func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := walker.LoadTree(ctx, repo, tid)
	if err != nil {
		return err
	}
	for _, n := range t.Nodes {
		p := path.Join(dir, n.Name)
		shown := f.Show(p)
		if shown {
			if err := fn(p, n); err != nil {
				return err
			}
		}
		if n.Type == tree.TypeDir && n.Subtree != nil && f.Enter(p) {
			if err := lsWalk(ctx, repo, p, *n.Subtree, f, fn, leave); err != nil {
				return err
			}
		}
		if shown && n.Type == tree.TypeDir && leave != nil {
			leave()
		}
	}
	return nil
}

func lsNcdu(ctx context.Context, repo *repository.Repository, out io.Writer, sn *snapshot.Snapshot, f *listing.Filter) error {
	w, err := listing.NewNcdu(out, sn)
	if err != nil {
		return err
	}
	err = lsWalk(ctx, repo, "/", *sn.Tree, f, func(_ string, n *tree.Node) error {
		if n.Type == tree.TypeDir {
			w.Enter(n)
		} else {
			w.Node(n)
		}
		return nil
	}, w.Leave)
	if err != nil {
		return err
	}
	return w.Close()
}

// lsSnapshotJSON is the first line of ls --json.
type lsSnapshotJSON struct {
	snapshotJSON
	MessageType string `json:"message_type"`
	StructType  string `json:"struct_type"`
}

// lsNodeJSON is a node line of ls --json, with restic's keys.
type lsNodeJSON struct {
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	Path        string  `json:"path"`
	UID         uint32  `json:"uid"`
	GID         uint32  `json:"gid"`
	Size        *uint64 `json:"size,omitempty"`
	Mode        uint32  `json:"mode,omitempty"`
	Permissions string  `json:"permissions,omitempty"`
	ModTime     string  `json:"mtime"`
	AccessTime  string  `json:"atime"`
	ChangeTime  string  `json:"ctime"`
	Inode       uint64  `json:"inode,omitempty"`
	MessageType string  `json:"message_type"`
	StructType  string  `json:"struct_type"`
}

func lsNodeJSONOf(e listing.Entry) lsNodeJSON {
	n := e.Node
	j := lsNodeJSON{
		Name: n.Name, Type: n.Type, Path: e.Path, UID: n.UID, GID: n.GID,
		Mode: uint32(n.Mode), Permissions: n.Mode.String(),
		ModTime:    n.ModTime.Format("2006-01-02T15:04:05.999999999Z07:00"),
		AccessTime: n.AccessTime.Format("2006-01-02T15:04:05.999999999Z07:00"),
		ChangeTime: n.ChangeTime.Format("2006-01-02T15:04:05.999999999Z07:00"),
		Inode:      n.Inode, MessageType: "node", StructType: "node",
	}
	if n.Type == tree.TypeFile {
		size := n.Size
		j.Size = &size
	}
	return j
}

// printNode prints one line of the text listing: the path, or with long
// restic's columns (mode, numeric uid and gid, size, mtime).
func printNode(w io.Writer, e listing.Entry, long, human bool) {
	n := e.Node
	if !long {
		fmt.Fprintln(w, e.Path)
		return
	}
	target := ""
	if n.Type == tree.TypeSymlink {
		target = " -> " + n.LinkTarget
	}
	size := fmt.Sprintf("%6d", n.Size)
	if human {
		size = ui.FormatBytes(n.Size)
	}
	fmt.Fprintf(w, "%s %5d %5d %s %s %s%s\n", n.Mode, n.UID, n.GID, size, n.ModTime.Local().Format("2006-01-02 15:04:05"), e.Path, target)
}
