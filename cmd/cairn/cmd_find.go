package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/cairn-backup/cairn/internal/find"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/spf13/cobra"
)

// findTimeFormat is how restic prints times for people.
const findTimeFormat = "2006-01-02 15:04:05"

type findOptions struct {
	filter     snapshotFilterFlags
	Snapshots  []string
	IgnoreCase bool
	Long       bool
	Blob       bool
	Tree       bool
	Pack       bool
	JSON       bool
	Newest     string
	Oldest     string
	Reverse    bool
	ShowPackID bool
	Human      bool

	newest, oldest time.Time // parsed from Newest and Oldest; zero: no bound
}

func newFindCommand(g *globalOptions) *cobra.Command {
	var o findOptions
	cmd := &cobra.Command{
		Use:   "find [flags] PATTERN...",
		Short: "Find files, or the files holding given blobs, in snapshots",
		Long: `Find files and directories in snapshots by name, or the files and
directories that hold given blobs, trees or packs.

A pattern is a glob matched against the path of each entry, component by
component: "*.go" matches every entry whose name ends in .go, "src/*.go"
every such file directly below a directory named src, and "/home" only
the top-level home. A pattern that matches a directory also matches
everything below it. With --blob, --tree or --pack the arguments are IDs or
ID prefixes instead.

All snapshots are searched, newest first (oldest first with --reverse),
unless --snapshot names some (--host, --tag and --path narrow the choice,
and pick among "latest"). --newest and --oldest keep only entries whose
modification time is at most or at least the given local time
("2006-01-02", "2006-01-02 15:04" or "2006-01-02 15:04:05").
--show-pack-id also names the packs that hold each blob or tree found by
--blob or --tree (in text mode only: restic prints these lines in the
middle of its JSON, cairn keeps --json output valid JSON).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFind(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.StringArrayVarP(&o.Snapshots, "snapshot", "s", nil, "search only the snapshot `id` (can be repeated)")
	f.BoolVarP(&o.IgnoreCase, "ignore-case", "i", false, "ignore case in patterns")
	f.BoolVarP(&o.Long, "long", "l", false, "show mode, owner, size and time too")
	f.BoolVar(&o.Blob, "blob", false, "arguments are data blob IDs: find the files that contain them")
	f.BoolVar(&o.Tree, "tree", false, "arguments are tree IDs: find the directories they are the contents of")
	f.BoolVar(&o.Pack, "pack", false, "arguments are pack IDs: find the files with data in them")
	f.StringVarP(&o.Newest, "newest", "N", "", "newest modification date/time")
	f.StringVarP(&o.Oldest, "oldest", "O", "", "oldest modification date/time")
	f.BoolVarP(&o.Reverse, "reverse", "R", false, "reverse sort order oldest to newest")
	f.BoolVar(&o.ShowPackID, "show-pack-id", false, "display the pack-ID the blobs belong to (with --blob or --tree)")
	f.BoolVar(&o.Human, "human-readable", false, "print sizes in human readable format")
	return cmd
}

func runFind(cmd *cobra.Command, g *globalOptions, o findOptions, args []string) error {
	o.JSON = g.JSON // the global --json
	ctx := cmd.Context()
	kinds := 0
	for _, b := range []bool{o.Blob, o.Tree, o.Pack} {
		if b {
			kinds++
		}
	}
	if kinds > 1 {
		return errors.New("only one of --blob, --tree and --pack can be given")
	}
	var err error
	if o.newest, err = parseFindTime(o.Newest); err != nil {
		return fmt.Errorf("--newest: %w", err)
	}
	if o.oldest, err = parseFindTime(o.Oldest); err != nil {
		return fmt.Errorf("--oldest: %w", err)
	}
	var pats []filter.Pattern
	if kinds == 0 {
		if pats, err = find.Patterns(args, o.IgnoreCase); err != nil {
			return err
		}
	}
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	snaps, err := snapshot.Select(ctx, repo, o.Snapshots, o.filter.filter(), warnDamaged(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	if !o.Reverse { // newest first, as restic
		slices.SortStableFunc(snaps, func(a, b *snapshot.Snapshot) int { return b.Time.Compare(a.Time) })
	} else {
		slices.SortStableFunc(snaps, func(a, b *snapshot.Snapshot) int { return a.Time.Compare(b.Time) })
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	switch {
	case kinds == 0:
		err = findByName(ctx, repo, out, snaps, pats, o, g.Quiet)
	case o.Pack:
		var data, trees find.Prefixes
		if data, trees, err = find.PackBlobs(repo, find.NewPrefixes(args)); err == nil {
			err = findIDs(ctx, repo, out, snaps, data, trees, o)
		}
	case o.Tree:
		err = findIDs(ctx, repo, out, snaps, nil, find.NewPrefixes(args), o)
	default:
		err = findIDs(ctx, repo, out, snaps, find.NewPrefixes(args), nil, o)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return err
}

// findByName prints the entries the patterns match, grouped by snapshot.
func findByName(ctx context.Context, repo *repository.Repository, out io.Writer, snaps []*snapshot.Snapshot, pats []filter.Pattern, o findOptions, quiet bool) error {
	groups := 0
	if o.JSON {
		fmt.Fprint(out, "[")
	}
	for _, sn := range snaps {
		var matches []findMatch // for JSON
		hits := 0
		err := find.Names(ctx, repo, *sn.Tree, pats, func(p string, n *tree.Node) error {
			if (!o.newest.IsZero() && n.ModTime.After(o.newest)) || (!o.oldest.IsZero() && n.ModTime.Before(o.oldest)) {
				return nil
			}
			hits++
			switch {
			case o.JSON:
				matches = append(matches, newFindMatch(p, n))
				return nil
			case hits == 1 && !quiet:
				if groups > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "Found matching entries in snapshot %s from %s\n", sn.ID.Str(), sn.Time.Local().Format(findTimeFormat))
			}
			fmt.Fprintln(out, formatFindNode(p, n, o.Long, o.Human))
			return nil
		})
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", sn.ID.Str(), err)
		}
		if hits == 0 {
			continue
		}
		if o.JSON {
			if groups > 0 {
				fmt.Fprint(out, ",")
			}
			b, err := json.Marshal(findGroup{Matches: matches, Hits: hits, Snapshot: sn.ID.String()})
			if err != nil {
				return err
			}
			if _, err := out.Write(b); err != nil {
				return err
			}
		}
		groups++
	}
	if o.JSON {
		fmt.Fprintln(out, "]")
	}
	return nil
}

// findGroup is one snapshot's matches in the JSON output.
type findGroup struct {
	Matches  []findMatch `json:"matches"`
	Hits     int         `json:"hits"`
	Snapshot string      `json:"snapshot"`
}

// findMatch is a matching node in the JSON output: the node's fields as
// restic prints them (no name or content), after its path and mode.
type findMatch struct {
	Path               string                   `json:"path"`
	Permissions        string                   `json:"permissions"`
	Type               string                   `json:"type"`
	Mode               os.FileMode              `json:"mode,omitempty"`
	ModTime            time.Time                `json:"mtime"`
	AccessTime         time.Time                `json:"atime"`
	ChangeTime         time.Time                `json:"ctime"`
	UID                uint32                   `json:"uid"`
	GID                uint32                   `json:"gid"`
	User               string                   `json:"user,omitempty"`
	Group              string                   `json:"group,omitempty"`
	Inode              uint64                   `json:"inode,omitempty"`
	DeviceID           uint64                   `json:"device_id,omitempty"`
	Size               uint64                   `json:"size,omitempty"`
	Links              uint64                   `json:"links,omitempty"`
	LinkTarget         string                   `json:"linktarget,omitempty"`
	ExtendedAttributes []tree.ExtendedAttribute `json:"extended_attributes,omitempty"`
	Device             uint64                   `json:"device,omitempty"`
}

func newFindMatch(p string, n *tree.Node) findMatch {
	return findMatch{
		Path: p, Permissions: typedMode(n).String(), Type: n.Type, Mode: n.Mode,
		ModTime: n.ModTime, AccessTime: n.AccessTime, ChangeTime: n.ChangeTime,
		UID: n.UID, GID: n.GID, User: n.User, Group: n.Group, Inode: n.Inode, DeviceID: n.DeviceID,
		Size: n.Size, Links: n.Links, LinkTarget: n.LinkTarget,
		ExtendedAttributes: n.ExtendedAttributes, Device: n.Device,
	}
}

// typedMode is the node's mode with the type bits its type implies.
func typedMode(n *tree.Node) os.FileMode {
	m := n.Mode
	switch n.Type {
	case tree.TypeDir:
		m |= os.ModeDir
	case tree.TypeSymlink:
		m |= os.ModeSymlink
	case tree.TypeDev:
		m |= os.ModeDevice
	case tree.TypeCharDev:
		m |= os.ModeDevice | os.ModeCharDevice
	case tree.TypeFifo:
		m |= os.ModeNamedPipe
	case tree.TypeSocket:
		m |= os.ModeSocket
	}
	return m
}

// formatFindNode is a line of find's output: the path, or with long the
// mode, numeric owner, size and time first, as restic prints them.
func formatFindNode(p string, n *tree.Node, long, human bool) string {
	if !long {
		return p
	}
	size := fmt.Sprintf("%6d", n.Size)
	if human {
		size = ui.FormatBytes(n.Size)
	}
	target := ""
	if n.Type == tree.TypeSymlink {
		target = " -> " + n.LinkTarget
	}
	return fmt.Sprintf("%s %5d %5d %s %s %s%s", typedMode(n), n.UID, n.GID, size, n.ModTime.Local().Format(findTimeFormat), p, target)
}

// findObject is a found blob or tree in the JSON output.
type findObject struct {
	ObjectType string    `json:"object_type"`
	ID         string    `json:"id"`
	Path       string    `json:"path"`
	ParentTree string    `json:"parent_tree,omitempty"`
	Snapshot   string    `json:"snapshot"`
	Time       time.Time `json:"time"`
}

// findIDs prints every file holding a data blob whose ID starts with one
// of data and every directory whose tree starts with one of trees.
func findIDs(ctx context.Context, repo *repository.Repository, out io.Writer, snaps []*snapshot.Snapshot, data, trees find.Prefixes, o findOptions) error {
	var objs []findObject
	found := id.NewSet() // for --show-pack-id
	var foundOrder []blob.Handle
	report := func(kind string, v id.ID, p string, parent id.ID, sn *snapshot.Snapshot) {
		h := blob.Handle{ID: v, Type: blob.Data}
		if kind == "tree" {
			h.Type = blob.Tree
		}
		if !found.Has(v) {
			found.Insert(v)
			foundOrder = append(foundOrder, h)
		}
		if o.JSON {
			obj := findObject{ObjectType: kind, ID: v.String(), Path: p, Snapshot: sn.ID.String(), Time: sn.Time}
			if kind == "blob" {
				obj.ParentTree = parent.String()
			}
			objs = append(objs, obj)
			return
		}
		fmt.Fprintf(out, "Found %s %s\n", kind, v)
		if kind == "blob" {
			fmt.Fprintf(out, " ... in file %s\n     (tree %s)\n", p, parent)
		} else {
			fmt.Fprintf(out, " ... path %s\n", p)
		}
		fmt.Fprintf(out, " ... in snapshot %s (%s)\n", sn.ID.Str(), sn.Time.Local().Format(findTimeFormat))
	}
	for _, sn := range snaps {
		err := find.Search(ctx, repo, *sn.Tree, data, trees, func(f find.Object) error {
			report(f.Kind, f.ID, f.Path, f.Parent, sn)
			return nil
		})
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", sn.ID.Str(), err)
		}
	}
	if o.JSON {
		if objs == nil {
			objs = []findObject{}
		}
		return json.NewEncoder(out).Encode(objs)
	}
	if o.ShowPackID && !o.Pack {
		for _, h := range foundOrder {
			for _, pb := range repo.Locate(h) {
				fmt.Fprintf(out, "Object belongs to pack %s\n ... Pack %s: <Blob (%v) %s, offset %d, length %d, uncompressed length %d>\n",
					pb.PackID, pb.PackID.Str(), h.Type, h.ID.Str(), pb.Offset, pb.Length, pb.PlainSize())
			}
		}
	}
	return nil
}

// parseFindTime reads --newest or --oldest in local time; "" is no bound.
func parseFindTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a date/time (e.g. 2006-01-02 15:04:05)", s)
}
