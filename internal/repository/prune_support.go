package repository

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/pack"
)

// This file holds what prune needs below the level of plain blobs: the
// index pack by pack, a write session that stores blobs again even though
// the index knows them in packs about to be deleted, and the writing of
// whole index files. The types are plain structs, so that the prune
// package needs neither index nor pack.

// IndexedPack is a pack named by the index, with its blobs in offset
// order. The packs of LoadPruneIndex do not hold their blobs: List reads
// them from the in-memory index when asked, so that a prune keeps one
// copy of the index, not two.
type IndexedPack struct {
	ID    id.ID
	Blobs []blob.Blob // the blobs, unless view has them

	view *index.PackView
	n    int // blobs in view
}

// List returns the blobs of the pack in offset order. The slice is the
// caller's when the pack lists them from the index.
func (p IndexedPack) List() []blob.Blob {
	if p.view == nil {
		return p.Blobs
	}
	return p.view.Blobs(p.ID, make([]blob.Blob, 0, p.n))
}

// Len returns the number of blobs of the pack.
func (p IndexedPack) Len() int {
	if p.view == nil {
		return len(p.Blobs)
	}
	return p.n
}

// Size returns the size the pack file must have if it holds exactly the
// listed blobs: the end of the last blob plus the header.
func (p IndexedPack) Size() int64 {
	return PackSize(p.List())
}

// HeaderSize returns the bytes the pack spends on its header.
func (p IndexedPack) HeaderSize() int64 {
	return int64(pack.HeaderSize(p.List()))
}

// Location returns where blob b of the pack is stored, for StreamPack.
func (p IndexedPack) Location(b blob.Blob) blob.PackedBlob {
	return blob.PackedBlob{Blob: b, PackID: p.ID}
}

// PruneIndex is the whole index of a repository, pack by pack.
type PruneIndex struct {
	// Files are the index files it was read from, in ID order.
	Files []id.ID
	// Packs lists every pack any of the files names, in ID order. A pack
	// described by several files appears once, with the union of the
	// blob entries.
	Packs []IndexedPack
	// Pending are the records of two-phase prunes between their phases,
	// in ID order; their files are not in Files.
	Pending []PendingRecord
}

// PendingRecord is an index file without packs that carries the record
// of a two-phase prune (index.File.Pending), which package prune reads.
type PendingRecord struct {
	ID     id.ID
	Record []byte
}

// pendingOf returns the record f carries, if any.
func pendingOf(fid id.ID, f *index.File) (PendingRecord, bool) {
	if f == nil || len(f.Pending) == 0 || len(f.Packs) > 0 {
		return PendingRecord{}, false
	}
	return PendingRecord{ID: fid, Record: slices.Clone(f.Pending)}, true
}

// SavePendingRecord stores the record of a two-phase prune as an index
// file without packs and returns the file's ID. Remove it with
// RemoveFiles(ctx, backend.IndexFile, ...).
func (r *Repository) SavePendingRecord(ctx context.Context, record []byte) (id.ID, error) {
	doc, err := index.Encode(&index.File{Pending: record})
	if err != nil {
		return id.ID{}, err
	}
	fid, err := r.SaveUnpacked(ctx, backend.IndexFile, doc)
	if err != nil {
		return id.ID{}, fmt.Errorf("save pending prune record: %w", err)
	}
	return fid, nil
}

// LoadPruneIndex reads every index file, like LoadIndex (whose in-memory
// index it also sets, so that LoadBlob works afterwards), and returns the
// packs they describe. Any index file that cannot be read fails the call:
// pruning with part of the index would delete data still in use. The
// packs list their blobs from the in-memory index loaded here (see
// IndexedPack.List), which stays in memory as long as they do.
func (r *Repository) LoadPruneIndex(ctx context.Context) (*PruneIndex, error) {
	var ids []id.ID
	var pending []PendingRecord
	idx, err := r.loadIndexFiles(ctx, false, func(fid id.ID, f *index.File, _ error) {
		if rec, ok := pendingOf(fid, f); ok {
			pending = append(pending, rec)
			return
		}
		ids = append(ids, fid)
	})
	if err != nil {
		return nil, err
	}
	v := idx.PackView()
	out := &PruneIndex{Files: ids, Pending: pending, Packs: make([]IndexedPack, 0, len(v.IDs()))}
	for _, pid := range v.IDs() {
		out.Packs = append(out.Packs, IndexedPack{ID: pid, view: v, n: v.Len(pid)})
	}
	return out, nil
}

// mergePacks turns the packs of index files into IndexedPacks, one per
// pack ID, without repeated entries.
func mergePacks(files []*index.File) []IndexedPack {
	byID := make(map[id.ID]int)
	var out []IndexedPack
	for _, f := range files {
		for _, p := range f.Packs {
			i, ok := byID[p.ID]
			if !ok {
				i = len(out)
				byID[p.ID] = i
				out = append(out, IndexedPack{ID: p.ID, Blobs: make([]blob.Blob, 0, len(p.Blobs))})
			}
			out[i].Blobs = append(out[i].Blobs, p.Blobs...)
		}
	}
	for i := range out {
		bl := out[i].Blobs
		slices.SortFunc(bl, func(a, b blob.Blob) int {
			return cmp.Or(cmp.Compare(a.Offset, b.Offset), bytes.Compare(a.Handle.ID[:], b.Handle.ID[:]), cmp.Compare(a.Handle.Type, b.Handle.Type))
		})
		out[i].Blobs = slices.Compact(bl)
	}
	slices.SortFunc(out, func(a, b IndexedPack) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// LoadIndexPacks reads one index file and returns the packs it lists.
func (r *Repository) LoadIndexPacks(ctx context.Context, fid id.ID) ([]IndexedPack, error) {
	f, err := r.readIndexFile(ctx, fid, false)
	if err != nil {
		return nil, err
	}
	return mergePacks([]*index.File{f}), nil
}

// StartRepacking starts a write session (see StartWriting) in which
// SaveBlob skips only blobs stored in the packs of keep. Blobs whose only
// copies are in other packs (those a prune is about to delete) are
// written again. The session replaces the repository's in-memory index
// with one of keep plus the packs it writes, and Finish writes index files
// for the new packs as usual.
func (r *Repository) StartRepacking(ctx context.Context, keep []IndexedPack, o WriteOptions) error {
	if r.w != nil {
		return fmt.Errorf("start repacking: already writing")
	}
	idx := index.New()
	for _, p := range keep {
		idx.AddPack(toIndexPack(p))
	}
	r.idx.Store(idx)
	return r.StartWriting(ctx, o)
}

// toIndexPack returns p as an index file lists it.
func toIndexPack(p IndexedPack) index.Pack {
	return index.Pack{ID: p.ID, Blobs: p.List()}
}

// SaveIndexPacks writes index files describing packs, in the order given,
// starting a new file whenever one holds the usual maximum of blobs
// (50 000; a pack is never split). It returns the IDs of the new files.
func (r *Repository) SaveIndexPacks(ctx context.Context, packs []IndexedPack) ([]id.ID, error) {
	var (
		out []id.ID
		cur index.File
		n   int
	)
	flush := func() error {
		if len(cur.Packs) == 0 {
			return nil
		}
		doc, err := index.Encode(&cur)
		if err != nil {
			return err
		}
		fid, err := r.SaveUnpacked(ctx, backend.IndexFile, doc)
		if err != nil {
			return fmt.Errorf("save index: %w", err)
		}
		out = append(out, fid)
		cur, n = index.File{}, 0
		return nil
	}
	for _, p := range packs {
		cur.Packs = append(cur.Packs, toIndexPack(p))
		n += p.Len()
		if n >= indexFullBlobs {
			if err := flush(); err != nil {
				return out, err
			}
		}
	}
	return out, flush()
}
