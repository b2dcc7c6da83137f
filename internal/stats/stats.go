package stats

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// Mode is a way of counting.
type Mode string

// The counting modes.
const (
	// RestoreSize counts every entry, and the bytes a restore would write
	// (a hardlinked file once per snapshot).
	RestoreSize Mode = "restore-size"
	// FilesByContents counts entries with distinct contents, and their
	// sizes.
	FilesByContents Mode = "files-by-contents"
	// RawData counts the distinct blobs the snapshots use, and the bytes
	// they take in the repository.
	RawData Mode = "raw-data"
	// BlobsPerFile is like FilesByContents, counting the size of the
	// distinct blobs of each such file.
	BlobsPerFile Mode = "blobs-per-file"
)

// ParseMode returns the mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case RestoreSize, FilesByContents, RawData, BlobsPerFile:
		return m, nil
	}
	return "", fmt.Errorf("unknown counting mode %q (use restore-size, files-by-contents, raw-data or blobs-per-file)", s)
}

// Totals are the numbers of a count; the JSON keys are restic's.
// Counts that are 0 are left out, as restic 0.19.1 does; the compression
// numbers are raw-data's, for repositories of version 2.
type Totals struct {
	TotalSize              uint64  `json:"total_size"`
	TotalUncompressedSize  uint64  `json:"total_uncompressed_size,omitempty"`
	CompressionRatio       float64 `json:"compression_ratio,omitempty"`
	CompressionProgress    float64 `json:"compression_progress,omitempty"`
	CompressionSpaceSaving float64 `json:"compression_space_saving,omitempty"`
	TotalFileCount         uint64  `json:"total_file_count,omitempty"`
	TotalBlobCount         uint64  `json:"total_blob_count,omitempty"`
	SnapshotsCount         int     `json:"snapshots_count"`
}

// Counter accumulates the totals of one mode over snapshots. The
// repository's index must be loaded.
type Counter struct {
	repo   *repository.Repository
	mode   Mode
	totals Totals

	contents  map[[32]byte]bool    // files-by-contents, blobs-per-file: contents seen
	fileBlobs map[string]id.Set    // blobs-per-file: blobs counted per path
	blobs     map[blob.Handle]bool // raw-data: blobs used
	trees     id.Set               // all but restore-size: trees walked
}

// New returns a Counter for mode in repo.
func New(repo *repository.Repository, mode Mode) *Counter {
	return &Counter{
		repo: repo, mode: mode,
		contents: map[[32]byte]bool{}, fileBlobs: map[string]id.Set{},
		blobs: map[blob.Handle]bool{}, trees: id.NewSet(),
	}
}

// Add adds one snapshot to the totals.
func (c *Counter) Add(ctx context.Context, sn *snapshot.Snapshot) error {
	c.totals.SnapshotsCount++
	switch c.mode {
	case RawData:
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
	case RestoreSize:
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
		if c.mode == FilesByContents {
			c.totals.TotalFileCount++
			c.totals.TotalSize += n.Size
			return nil
		}
		return c.countFileBlobs(p, n, parent)
	})
}

// Totals returns the totals of the snapshots added so far. For raw-data it
// looks up the blobs in the index; call it once, after the last Add.
func (c *Counter) Totals() (Totals, error) {
	if c.mode == RawData {
		if err := c.countBlobs(); err != nil {
			return Totals{}, err
		}
	}
	return c.totals, nil
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
func (c *Counter) countFileBlobs(p string, n *tree.Node, parent id.ID) error {
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
// compression included. In repositories of version 2 it also sums what
// the blobs would take uncompressed (their plaintext plus the encryption
// overhead) and derives restic's compression numbers from that: the ratio
// over the compressed blobs, the share of the data that is compressed and
// the space saved, both in percent.
func (c *Counter) countBlobs() error {
	compress := c.repo.Config().Version >= 2
	var compressed, compressedUncompressed uint64
	for h := range c.blobs {
		locs := c.repo.Locate(h)
		if len(locs) == 0 {
			return fmt.Errorf("blob %v is not in the index", h)
		}
		b := locs[0].Blob
		c.totals.TotalSize += uint64(b.Length)
		c.totals.TotalBlobCount++
		if !compress {
			continue
		}
		full := uint64(b.PlainSize()) + blob.Overhead
		c.totals.TotalUncompressedSize += full
		if b.IsCompressed() {
			compressed += uint64(b.Length)
			compressedUncompressed += full
		}
	}
	if compressed > 0 {
		c.totals.CompressionRatio = float64(compressedUncompressed) / float64(compressed)
	}
	if u := c.totals.TotalUncompressedSize; u > 0 {
		c.totals.CompressionProgress = float64(compressedUncompressed) / float64(u) * 100
		c.totals.CompressionSpaceSaving = (1 - float64(c.totals.TotalSize)/float64(u)) * 100
	}
	return nil
}
