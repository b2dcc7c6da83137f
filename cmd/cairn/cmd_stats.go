package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
	"github.com/spf13/cobra"
)

// The counting modes of stats.
const (
	statsRestoreSize     = "restore-size"
	statsFilesByContents = "files-by-contents"
	statsRawData         = "raw-data"
	statsBlobsPerFile    = "blobs-per-file"
)

type statsOptions struct {
	filter snapshotFilterFlags
	Mode   string
	JSON   bool
}

func newStatsCommand(g *globalOptions) *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [flags] [SNAPSHOT...]",
		Short: "Count the files and bytes of snapshots",
		Long: `Count the files and bytes of the given snapshots, or of all snapshots
(that --host, --tag and --path select), in one of these modes:

  restore-size       every entry, and the bytes a restore would write
                     (a hardlinked file once per snapshot)
  files-by-contents  entries with distinct contents, and their sizes
  raw-data           the distinct blobs the snapshots use, and the bytes
                     they take in the repository
  blobs-per-file     like files-by-contents, counting the size of the
                     distinct blobs of each such file

The numbers are those restic 0.14 prints.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd, g, o, args)
		},
	}
	o.filter.add(cmd)
	cmd.Flags().StringVar(&o.Mode, "mode", statsRestoreSize, "counting `mode`: restore-size, files-by-contents, raw-data or blobs-per-file")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

// statsTotals are the numbers stats prints; the JSON keys are restic's.
type statsTotals struct {
	TotalSize      uint64 `json:"total_size"`
	TotalFileCount uint64 `json:"total_file_count"`
	TotalBlobCount uint64 `json:"total_blob_count,omitempty"`
	SnapshotsCount int    `json:"snapshots_count"`
}

func runStats(cmd *cobra.Command, g *globalOptions, o statsOptions, args []string) error {
	ctx := cmd.Context()
	switch o.Mode {
	case statsRestoreSize, statsFilesByContents, statsRawData, statsBlobsPerFile:
	default:
		return fmt.Errorf("unknown counting mode %q (use restore-size, files-by-contents, raw-data or blobs-per-file)", o.Mode)
	}
	repo, ctx, release, err := g.openLocked(ctx, lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	snaps, err := selectSnapshots(ctx, repo, args, o.filter.filter())
	if err != nil {
		return err
	}
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !o.JSON {
		fmt.Fprintln(out, "scanning...")
	}
	c := newStatsCounter(repo, o.Mode)
	for _, sn := range snaps {
		if err := c.snapshot(ctx, sn); err != nil {
			return fmt.Errorf("snapshot %s: %w", sn.ID.Str(), err)
		}
	}
	if o.Mode == statsRawData {
		if err := c.countBlobs(); err != nil {
			return err
		}
	}
	return printStats(out, o, c.totals)
}

// statsCounter accumulates the totals of one mode over snapshots.
type statsCounter struct {
	repo   *repository.Repository
	mode   string
	totals statsTotals

	contents  map[[32]byte]bool    // files-by-contents, blobs-per-file: contents seen
	fileBlobs map[string]id.Set    // blobs-per-file: blobs counted per path
	blobs     map[blob.Handle]bool // raw-data: blobs used
	trees     id.Set               // all but restore-size: trees walked
}

func newStatsCounter(repo *repository.Repository, mode string) *statsCounter {
	return &statsCounter{
		repo: repo, mode: mode,
		contents: map[[32]byte]bool{}, fileBlobs: map[string]id.Set{},
		blobs: map[blob.Handle]bool{}, trees: id.NewSet(),
	}
}

// snapshot adds one snapshot to the totals.
func (c *statsCounter) snapshot(ctx context.Context, sn *snapshot.Snapshot) error {
	c.totals.SnapshotsCount++
	switch c.mode {
	case statsRawData:
		// Every tree once over all snapshots: its blobs are already known.
		c.blobs[blob.Handle{ID: *sn.Tree, Type: blob.Tree}] = true
		return walker.Walk(ctx, c.repo, *sn.Tree, walker.Options{Seen: c.trees}, func(_ string, n *tree.Node, _ id.ID) error {
			switch n.Type {
			case tree.TypeDir:
				c.blobs[blob.Handle{ID: *n.Subtree, Type: blob.Tree}] = true
			case tree.TypeFile:
				for _, b := range n.Content {
					c.blobs[blob.Handle{ID: b, Type: blob.Data}] = true
				}
			}
			return nil
		})
	case statsRestoreSize:
		// restic counts every entry, and the size of each inode number
		// once per snapshot (0 meaning unknown, always counted).
		inodes := map[uint64]bool{}
		return walker.Walk(ctx, c.repo, *sn.Tree, walker.Options{}, func(_ string, n *tree.Node, _ id.ID) error {
			c.totals.TotalFileCount++
			if n.Inode == 0 || !inodes[n.Inode] {
				inodes[n.Inode] = true
				c.totals.TotalSize += n.Size
			}
			return nil
		})
	}
	// files-by-contents and blobs-per-file count each content once, so a
	// tree walked before, in this snapshot or another, adds nothing.
	return walker.Walk(ctx, c.repo, *sn.Tree, walker.Options{Seen: c.trees}, func(p string, n *tree.Node, parent id.ID) error {
		key := contentKey(n)
		if c.contents[key] {
			return nil
		}
		c.contents[key] = true
		if c.mode == statsFilesByContents {
			c.totals.TotalFileCount++
			c.totals.TotalSize += n.Size
			return nil
		}
		return c.countFileBlobs(p, n, parent)
	})
}

// contentKey identifies a node's content: the hash of its blob IDs in
// order. Every node without content (directories, symlinks, empty files)
// has the same key, so restic counts them together as one.
func contentKey(n *tree.Node) [32]byte {
	h := sha256.New()
	for _, b := range n.Content {
		h.Write(b[:])
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// countFileBlobs counts, for blobs-per-file, the file at p as one file
// and each of its blobs not yet counted for that path.
func (c *statsCounter) countFileBlobs(p string, n *tree.Node, parent id.ID) error {
	if len(n.Content) == 0 {
		return nil
	}
	seen, ok := c.fileBlobs[p]
	if !ok {
		seen = id.NewSet()
		c.fileBlobs[p] = seen
		c.totals.TotalFileCount++
	}
	for _, b := range n.Content {
		if seen.Has(b) {
			continue
		}
		size, found := c.repo.Index().Size(blob.Handle{ID: b, Type: blob.Data})
		if !found {
			return fmt.Errorf("data blob %v of %s (tree %v) is not in the index", b.Str(), p, parent.Str())
		}
		seen.Insert(b)
		c.totals.TotalSize += uint64(size)
		c.totals.TotalBlobCount++
	}
	return nil
}

// countBlobs adds, for raw-data, the stored size of every blob used: the
// length of its first copy in the pack, encryption overhead and
// compression included.
func (c *statsCounter) countBlobs() error {
	for h := range c.blobs {
		locs := c.repo.Locate(h)
		if len(locs) == 0 {
			return fmt.Errorf("blob %v is not in the index", h)
		}
		c.totals.TotalSize += uint64(locs[0].Length)
		c.totals.TotalBlobCount++
	}
	return nil
}

func printStats(w io.Writer, o statsOptions, t statsTotals) error {
	if o.JSON {
		return json.NewEncoder(w).Encode(t)
	}
	fmt.Fprintf(w, "Stats in %s mode:\n", o.Mode)
	fmt.Fprintf(w, "Snapshots processed:   %d\n", t.SnapshotsCount)
	if t.TotalBlobCount > 0 {
		fmt.Fprintf(w, "   Total Blob Count:   %d\n", t.TotalBlobCount)
	}
	if t.TotalFileCount > 0 {
		fmt.Fprintf(w, "   Total File Count:   %d\n", t.TotalFileCount)
	}
	fmt.Fprintf(w, "         Total Size:   %-5s\n", formatBytes(t.TotalSize))
	return nil
}
