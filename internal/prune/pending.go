package prune

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/lock"
)

// recordVersion is the version of Record this package writes and reads.
const recordVersion = 1

// Record is what a two-phase prune leaves between its phases: the packs it
// condemned and what deciding their deletion needs. It is stored as an
// index file without packs (repository.SavePendingRecord), so that every
// backend takes it and restic reads it as an empty index.
type Record struct {
	Version int `json:"version"`
	// Created is when phase 1 wrote the record, Hostname where.
	Created  time.Time `json:"created"`
	Hostname string    `json:"hostname,omitempty"`
	// Swapped is when the old index files were all gone; zero until the
	// swap is confirmed (the record is rewritten then, with Holders).
	Swapped time.Time `json:"swapped,omitzero"`
	// OldIndex are the index files the swap removes, NewIndex those it
	// wrote in their place.
	OldIndex []id.ID `json:"old_index"`
	NewIndex []id.ID `json:"new_index"`
	// Snapshots are the snapshots the plan was made from. Any other
	// snapshot may use a condemned blob.
	Snapshots []id.ID `json:"snapshots"`
	// Holders are the processes that held locks right after the swap,
	// other than the prune: they may have read the old index.
	Holders []lock.Holder `json:"holders,omitempty"`
	// Packs are the condemned packs the old index named, with their blobs.
	Packs []CondemnedPack `json:"packs"`
	// Unindexed are condemned packs that no index named when the plan was
	// made: leftovers of writers that died, or packs of writers whose
	// index was not written yet (kept if an index names them later).
	Unindexed []id.ID `json:"unindexed,omitempty"`
}

// CondemnedPack is a pack of the old index that the new one leaves out.
type CondemnedPack struct {
	ID    id.ID       `json:"id"`
	Blobs []blob.Blob `json:"blobs"`
}

// Encode returns the record's JSON.
func (r *Record) Encode() ([]byte, error) {
	r.Version = recordVersion
	return json.Marshal(r)
}

// DecodeRecord parses a record. Any record that is not of this version,
// or that names no pack at all, is an error: deciding deletions on a
// record one does not fully understand could lose data.
func DecodeRecord(doc []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(doc, &r); err != nil {
		return nil, fmt.Errorf("decode pending prune record: %w", err)
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("decode pending prune record: version %d, want %d", r.Version, recordVersion)
	}
	if r.Created.IsZero() {
		return nil, errors.New("decode pending prune record: no creation time")
	}
	for _, p := range r.Packs {
		for _, b := range p.Blobs {
			if b.Type != blob.Data && b.Type != blob.Tree {
				return nil, fmt.Errorf("decode pending prune record: pack %v: blob %v has no type", p.ID.Str(), b.ID.Str())
			}
		}
	}
	return &r, nil
}

// PackIDs returns every pack the record condemns, indexed or not.
func (r *Record) PackIDs() []id.ID {
	out := make([]id.ID, 0, len(r.Packs)+len(r.Unindexed))
	for _, p := range r.Packs {
		out = append(out, p.ID)
	}
	return append(out, r.Unindexed...)
}

// FinishInput is what deciding phase 2 of a record needs.
type FinishInput struct {
	Record *Record
	Now    time.Time
	// Grace is how long after the swap a record that had holders waits
	// at least. Force (an exclusive lock, under which nobody else runs)
	// skips the holders and the grace.
	Grace time.Duration
	Force bool
	// StillHeld is how many of Record.Holders still hold a live lock.
	StillHeld int
	// Indexed reports whether the current index names a pack; Stored
	// whether the pack file exists.
	Indexed, Stored func(id.ID) bool
	// Needed are the blobs that snapshots not in Record.Snapshots use and
	// that the current index does not know.
	Needed map[blob.Handle]struct{}
}

// FinishPlan is what phase 2 does with a record.
type FinishPlan struct {
	// Wait says why nothing may be deleted yet; empty when the plan may
	// be carried out.
	Wait string
	// Reindex are condemned packs that hold needed blobs: they are
	// indexed again instead of deleted.
	Reindex []CondemnedPack
	// Delete are the condemned packs to delete.
	Delete []id.ID
	// Lost are needed blobs no stored condemned pack holds: a snapshot
	// that uses them is damaged already (nothing phase 2 does changes it).
	Lost []blob.Handle
}

// DecideFinish decides phase 2 of a record. It is a pure function, so
// that the property test of the two phases runs it as the command does.
//
// A condemned pack is deleted only when the swap is confirmed, every
// holder is gone, the grace has passed (for a record with holders), no
// index names the pack again, and no snapshot the plan did not know uses
// a blob of it that the current index lacks.
func DecideFinish(in FinishInput) FinishPlan {
	r := in.Record
	switch {
	case r.Swapped.IsZero():
		return FinishPlan{Wait: "the index swap is not confirmed"}
	case in.Force:
	case in.StillHeld > 0:
		return FinishPlan{Wait: fmt.Sprintf("waiting for %d processes that held locks at the index swap", in.StillHeld)}
	case len(r.Holders) > 0 && in.Now.Before(r.Swapped.Add(in.Grace)):
		return FinishPlan{Wait: "grace period until " + r.Swapped.Add(in.Grace).Local().Format(time.DateTime)}
	}
	var out FinishPlan
	found := make(map[blob.Handle]bool, len(in.Needed))
	for _, p := range r.Packs {
		if in.Indexed(p.ID) || !in.Stored(p.ID) {
			continue
		}
		needed := false
		for _, b := range p.Blobs {
			if _, ok := in.Needed[b.Handle]; ok {
				needed = true
				found[b.Handle] = true
			}
		}
		if needed {
			out.Reindex = append(out.Reindex, p)
		} else {
			out.Delete = append(out.Delete, p.ID)
		}
	}
	for _, pid := range r.Unindexed {
		if !in.Indexed(pid) && in.Stored(pid) {
			out.Delete = append(out.Delete, pid)
		}
	}
	for h := range in.Needed {
		if !found[h] {
			out.Lost = append(out.Lost, h)
		}
	}
	slices.SortFunc(out.Lost, func(a, b blob.Handle) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}
