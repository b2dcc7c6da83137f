package prune

import (
	"errors"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
)

// ErrDataMissing means that blobs the snapshots need are in no intact
// pack: pruning would make matters worse, so it does not start.
var ErrDataMissing = errors.New("data needed by snapshots is missing from the repository")

// Input is the state of a repository a plan is made from.
type Input struct {
	// Packs is the index, pack by pack.
	Packs []repository.IndexedPack
	// Stored maps every pack file in the backend to its size.
	Stored map[id.ID]int64
	// Used is the set of blobs the snapshots need.
	Used map[blob.Handle]struct{}
	// RepoVersion is the repository format version (compression from 2).
	RepoVersion uint
}

// Counts counts blobs (or their stored bytes) by what becomes of them.
type Counts struct {
	// Used blobs are needed, counting one copy each; Duplicate are the
	// further copies; Unused are not needed.
	Used, Duplicate, Unused uint64
	// Remove is in packs deleted whole; Repack in packs repacked, of
	// which RepackRemove is not copied.
	Remove, Repack, RepackRemove uint64
}

// PackCounts counts pack files.
type PackCounts struct {
	// Used packs hold only used blobs, PartlyUsed some, Unused none.
	Used, PartlyUsed, Unused int
	// Unref packs are in no index; Missing are indexed but not stored;
	// Damaged are stored with another size than the index implies.
	Unref, Missing, Damaged int
	// What becomes of the stored, indexed packs.
	Keep, Repack, Remove int
}

// Stats describe a plan, in the terms restic prints.
type Stats struct {
	Blobs Counts
	// Size counts the stored (encrypted) bytes of blobs; pack headers are
	// left out, except from Repack (the packs' full size, as in restic).
	Size Counts
	// UnrefSize is the size of the unreferenced pack files.
	UnrefSize uint64
	Packs     PackCounts
}

// TotalBlobs and TotalSize are all blobs in indexed, stored packs plus
// (for the size) the unreferenced packs.
func (s Stats) TotalBlobs() uint64 { return s.Blobs.Used + s.Blobs.Duplicate + s.Blobs.Unused }

// TotalSize is the stored bytes before pruning.
func (s Stats) TotalSize() uint64 {
	return s.Size.Used + s.Size.Duplicate + s.Size.Unused + s.UnrefSize
}

// PruneBlobs and PruneSize are what the prune removes.
func (s Stats) PruneBlobs() uint64 { return s.Blobs.Remove + s.Blobs.RepackRemove }

// PruneSize is the stored bytes the prune removes.
func (s Stats) PruneSize() uint64 { return s.Size.Remove + s.Size.RepackRemove + s.UnrefSize }

// UnusedAfter is the unused bytes left after the prune.
func (s Stats) UnusedAfter() uint64 {
	return s.Size.Duplicate + s.Size.Unused - s.Size.Remove - s.Size.RepackRemove
}

// RepackPack is a pack to repack and the blobs to copy out of it.
type RepackPack struct {
	Pack repository.IndexedPack
	Copy []blob.Blob
}

// Plan says what a prune does.
type Plan struct {
	Stats Stats
	// Unreferenced packs are stored but in no index: deleted first.
	Unreferenced []id.ID
	// Repack lists the packs to repack, most worthwhile first.
	Repack []RepackPack
	// Remove lists the indexed packs deleted whole (unused or damaged).
	Remove []id.ID
	// Missing lists the indexed packs that are not stored; none of them
	// holds a needed blob. The new index leaves them out.
	Missing []id.ID
	// Keep lists the indexed, stored packs that stay as they are.
	Keep []repository.IndexedPack
}

// RewritesIndex reports whether the index files must be replaced.
func (p *Plan) RewritesIndex() bool {
	return len(p.Repack) > 0 || len(p.Remove) > 0 || len(p.Missing) > 0
}
