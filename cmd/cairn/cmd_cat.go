package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/spf13/cobra"
)

var catUnpacked = map[string]backend.FileType{
	"index":    backend.IndexFile,
	"snapshot": backend.SnapshotFile,
	"lock":     backend.LockFile,
}

func newCatCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cat [config|masterkey|key|index|snapshot|lock|pack|blob|tree] [ID]",
		Short: "Print a decoded repository object",
		Long: `Print a decoded repository object.

"cat tree" takes a snapshot with an optional path in it, SNAPSHOT[:PATH],
or the ID (or a unique ID prefix) of a tree blob, and prints the tree's
JSON as stored. Indexes are printed as stored; configuration, keys,
snapshots and locks as indented JSON, as restic prints them.` + exitStatusRepo,
		Example: `  cairn cat config
  cairn cat snapshot 1a2b3c4d
  cairn cat tree latest:/home/me`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCat(cmd, g, args)
		},
	}
}

func runCat(cmd *cobra.Command, g *globalOptions, args []string) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if len(args) == 0 {
		return errors.New("type not specified")
	}
	kind := args[0]
	needID := kind != "config" && kind != "masterkey"
	switch kind {
	case "config", "masterkey", "key", "index", "snapshot", "lock", "pack", "blob", "tree":
	default:
		return fmt.Errorf("invalid type %q, must be one of [config|index|snapshot|key|masterkey|lock|pack|blob|tree]", kind)
	}
	switch {
	case needID && len(args) != 2:
		return errors.New("ID not specified")
	case !needID && len(args) != 1:
		return fmt.Errorf("cat %s takes no ID", kind)
	}
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	switch kind {
	case "config":
		doc, err := repo.LoadConfigJSON(ctx)
		if err != nil {
			return err
		}
		return printJSON(out, doc)
	case "masterkey":
		doc, err := json.Marshal(repo.Key())
		if err != nil {
			return err
		}
		return printJSON(out, doc)
	case "key":
		kid, err := repo.FindFile(ctx, backend.KeyFile, args[1])
		if err != nil {
			return err
		}
		kf, err := repo.LoadKey(ctx, kid)
		if err != nil {
			return err
		}
		doc, err := json.Marshal(kf)
		if err != nil {
			return err
		}
		return printJSON(out, doc)
	case "index", "snapshot", "lock":
		t := catUnpacked[kind]
		fid, err := repo.FindFile(ctx, t, args[1])
		if err != nil {
			return err
		}
		doc, err := repo.LoadUnpacked(ctx, t, fid)
		if err != nil {
			return err
		}
		if kind == "index" {
			// restic prints an index as it is stored.
			if _, err := out.Write(doc); err != nil {
				return err
			}
			if !bytes.HasSuffix(doc, []byte("\n")) {
				_, err = fmt.Fprintln(out)
			}
			return err
		}
		return printJSON(out, doc)
	case "pack":
		pid, err := repo.FindFile(ctx, backend.PackFile, args[1])
		if err != nil {
			return err
		}
		return repo.LoadRaw(ctx, backend.PackFile, pid, func(rd io.Reader) error {
			_, err := io.Copy(out, rd)
			return err
		})
	}
	if kind == "tree" {
		return catTree(ctx, repo, out, cmd.ErrOrStderr(), args[1])
	}
	// blob
	bid, err := id.Parse(args[1])
	if err != nil {
		return err
	}
	idx, err := repo.LoadIndex(ctx)
	if err != nil {
		return err
	}
	for _, t := range []blob.Type{blob.Data, blob.Tree} {
		h := blob.Handle{ID: bid, Type: t}
		if !idx.Has(h) {
			continue
		}
		buf, err := repo.LoadBlob(ctx, h)
		if err != nil {
			return err
		}
		_, err = out.Write(buf)
		return err
	}
	return fmt.Errorf("blob %v not found: %w", bid.Str(), backend.ErrNotExist)
}

// printJSON writes doc indented, or as it is if it is not JSON.
func printJSON(w io.Writer, doc []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		var syn *json.SyntaxError
		if !errors.As(err, &syn) {
			return err
		}
		buf.Reset()
		buf.Write(doc)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// catTree prints the tree blob ref names: SNAPSHOT[:PATH], or a tree ID or
// unique ID prefix.
func catTree(ctx context.Context, repo *repository.Repository, out, warn io.Writer, ref string) error {
	name, sub, hasPath := strings.Cut(ref, ":")
	sn, err := snapshot.Find(ctx, repo, name, snapshot.Filter{}, warnDamaged(warn))
	if err != nil && (hasPath || !errors.Is(err, snapshot.ErrNotFound)) {
		return err
	}
	idx, err2 := repo.LoadIndex(ctx)
	if err2 != nil {
		return err2
	}
	var tid id.ID
	if err == nil {
		if tid, err = subtreeID(ctx, repo, sn, path.Clean("/"+sub)); err != nil {
			return err
		}
	} else {
		prefix := strings.ToLower(name)
		n := 0
		idx.Each(func(h blob.Handle) {
			if h.Type == blob.Tree && strings.HasPrefix(h.ID.String(), prefix) {
				tid = h.ID
				n++
			}
		})
		switch {
		case n == 0:
			return fmt.Errorf("no snapshot or tree matches %q", ref)
		case n > 1:
			return fmt.Errorf("prefix %q matches %d trees", ref, n)
		}
	}
	buf, err := repo.LoadBlob(ctx, blob.Handle{ID: tid, Type: blob.Tree})
	if err != nil {
		return err
	}
	_, err = out.Write(buf)
	return err
}
