package serve

import (
	"context"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
)

// Totals are the files and bytes below a directory, each file counted
// once per path.
type Totals struct {
	Files, Bytes uint64
}

// totals returns the Totals of the tree tid, memoized by tree ID (a tree
// appears unchanged in many snapshots).
func (s *Server) totals(ctx context.Context, tid id.ID) (Totals, error) {
	if t, ok := s.dirTotals.get(tid); ok {
		return t, nil
	}
	tr, err := s.o.View.Tree(ctx, tid)
	if err != nil {
		return Totals{}, err
	}
	var sum Totals
	for _, n := range tr.Nodes {
		switch {
		case n.Type == tree.TypeFile:
			sum.Files++
			sum.Bytes += n.Size
		case n.Type == tree.TypeDir && n.Subtree != nil:
			sub, err := s.totals(ctx, *n.Subtree)
			if err != nil {
				return Totals{}, err
			}
			sum.Files += sub.Files
			sum.Bytes += sub.Bytes
		}
	}
	s.dirTotals.add(tid, sum)
	return sum, nil
}

// point is one snapshot's figures on the plots.
type point struct {
	Snapshot *snapshot.Snapshot
	Time     time.Time
	Added    uint64 // bytes the snapshot added to the repository
	RepoSize uint64 // sum of Added up to and including this snapshot
	Files    uint64
	Bytes    uint64
}

// series returns the plots' figures for snaps (oldest first). A
// snapshot's files and bytes are those its backup summary records, or,
// without one (restic before 0.17), the totals of its tree. The data it
// added is its summary's data_added, or without a summary the plaintext
// size of the blobs no earlier snapshot refers to (which takes a set of
// the repository's blob IDs in memory, once).
func (s *Server) series(ctx context.Context, snaps []*snapshot.Snapshot) ([]point, error) {
	s.seriesMu.Lock()
	defer s.seriesMu.Unlock()
	out := make([]point, 0, len(snaps))
	var seenTrees id.Set
	var seenBlobs map[blob.Handle]struct{}
	var size uint64
	for _, sn := range snaps {
		p := point{Snapshot: sn, Time: sn.Time}
		if c, ok := s.pointCache[sn.ID]; ok {
			p = c
		} else {
			if sum := sn.Summary; sum != nil {
				p.Files, p.Bytes = sum.TotalFilesProcessed, sum.TotalBytesProcessed
				p.Added = sum.DataAdded
			} else if sn.Tree != nil {
				t, err := s.totals(ctx, *sn.Tree)
				if err != nil {
					return nil, err
				}
				p.Files, p.Bytes = t.Files, t.Bytes
				if seenTrees == nil {
					seenTrees, seenBlobs = id.NewSet(), map[blob.Handle]struct{}{}
					// The blobs of the snapshots before this one.
					for _, prev := range out {
						if prev.Snapshot.Tree != nil {
							if _, err := s.newBlobs(ctx, *prev.Snapshot.Tree, seenTrees, seenBlobs); err != nil {
								return nil, err
							}
						}
					}
				}
				added, err := s.newBlobs(ctx, *sn.Tree, seenTrees, seenBlobs)
				if err != nil {
					return nil, err
				}
				p.Added = added
			}
			s.pointCache[sn.ID] = p
		}
		if seenTrees != nil && sn.Summary != nil && sn.Tree != nil {
			// Keep the seen sets complete for later summary-less ones.
			if _, err := s.newBlobs(ctx, *sn.Tree, seenTrees, seenBlobs); err != nil {
				return nil, err
			}
		}
		size += p.Added
		p.RepoSize = size
		out = append(out, p)
	}
	return out, nil
}

// newBlobs walks the tree tid, skipping trees in seenTrees, and returns
// the plaintext size of the blobs not in seenBlobs, adding all it meets to
// both sets.
func (s *Server) newBlobs(ctx context.Context, tid id.ID, seenTrees id.Set, seenBlobs map[blob.Handle]struct{}) (uint64, error) {
	if seenTrees.Has(tid) {
		return 0, nil
	}
	seenTrees.Insert(tid)
	var added uint64
	add := func(h blob.Handle) {
		if _, ok := seenBlobs[h]; ok {
			return
		}
		seenBlobs[h] = struct{}{}
		if n, ok := s.o.Sizes.Size(h); ok {
			added += uint64(n)
		}
	}
	add(blob.Handle{ID: tid, Type: blob.Tree})
	tr, err := s.o.View.Tree(ctx, tid)
	if err != nil {
		return 0, err
	}
	for _, n := range tr.Nodes {
		switch n.Type {
		case tree.TypeFile:
			for _, c := range n.Content {
				add(blob.Handle{ID: c, Type: blob.Data})
			}
		case tree.TypeDir:
			if n.Subtree != nil {
				sub, err := s.newBlobs(ctx, *n.Subtree, seenTrees, seenBlobs)
				if err != nil {
					return 0, err
				}
				added += sub
			}
		}
	}
	return added, nil
}
