package repository

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/pack"
)

// backendReaderAt reads a backend file by ranges.
type backendReaderAt struct {
	ctx context.Context
	be  backend.Backend
	h   backend.Handle
}

func (r backendReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	err := r.be.Load(r.ctx, r.h, len(p), off, func(rd io.Reader) error {
		var err error
		n, err = io.ReadFull(rd, p)
		return err
	})
	return n, err
}

// PackHeader reads and decodes the header of a pack file of the given
// size, returning its blobs as index entries.
func (r *Repository) PackHeader(ctx context.Context, pid id.ID, size int64) ([]blob.Blob, error) {
	h := backend.Handle{Type: backend.PackFile, Name: pid.String()}
	blobs, err := pack.ReadHeader(ctx, backendReaderAt{ctx, r.be, h}, size, r.key)
	if err != nil {
		return nil, fmt.Errorf("pack %v: %w", pid.Str(), err)
	}
	return blobs, nil
}

// RepairReport says what RebuildIndex did.
type RepairReport struct {
	Packs, Blobs int
	BadPacks     []id.ID // headers that could not be read
	// Kept says, for those of BadPacks the old index listed, how many
	// of their blobs were kept from it (those that lie within the file).
	Kept          map[id.ID]int
	OldIndexFiles int
	NewIndexFiles int
}

// RebuildIndex writes a new index from the headers of every pack in the
// backend, then removes the index files that existed before. Packs whose
// header cannot be read are reported; what a readable old index file lists
// of such a pack, within the pack's size, is kept, so that a damaged
// header or a cut loses no blob that can still be read (every blob is
// verified when read; repair packs then salvages them), and a pack no old
// index lists is left out. Interrupted, it leaves the old index in place
// (plus, at worst, some new files describing the same packs), which is
// valid.
func (r *Repository) RebuildIndex(ctx context.Context, progress func(done, total int)) (RepairReport, error) {
	var rep RepairReport
	oldIdx, err := r.ListIndexIDs(ctx)
	if err != nil {
		return rep, err
	}
	type packInfo struct {
		id   id.ID
		size int64
	}
	var packs []packInfo
	if err := r.be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		if v, err := id.Parse(fi.Name); err == nil {
			packs = append(packs, packInfo{v, fi.Size})
		}
		return nil
	}); err != nil {
		return rep, fmt.Errorf("list packs: %w", err)
	}
	cur := &index.File{}
	n := 0
	bad := make(map[id.ID]int64) // packs whose header cannot be read, by size
	flush := func() error {
		if len(cur.Packs) == 0 {
			return nil
		}
		doc, err := index.Encode(cur)
		if err != nil {
			return err
		}
		if _, err := r.SaveUnpacked(ctx, backend.IndexFile, doc); err != nil {
			return fmt.Errorf("save index: %w", err)
		}
		rep.NewIndexFiles++
		cur, n = &index.File{}, 0
		return nil
	}
	for i, p := range packs {
		if progress != nil {
			progress(i, len(packs))
		}
		blobs, err := r.PackHeader(ctx, p.id, p.size)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.BadPacks = append(rep.BadPacks, p.id)
			bad[p.id] = p.size
			continue
		}
		cur.Packs = append(cur.Packs, index.Pack{ID: p.id, Blobs: blobs})
		rep.Packs++
		rep.Blobs += len(blobs)
		n += len(blobs)
		if n >= indexFullBlobs {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if len(bad) > 0 {
		kept, err := r.oldEntries(ctx, oldIdx, bad)
		if err != nil {
			return rep, err
		}
		rep.Kept = make(map[id.ID]int, len(kept))
		for _, p := range kept {
			cur.Packs = append(cur.Packs, p)
			rep.Kept[p.ID] = len(p.Blobs)
			rep.Packs++
			rep.Blobs += len(p.Blobs)
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	for _, old := range oldIdx {
		if err := r.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: old.String()}); err != nil && !isNotExist(err) {
			return rep, fmt.Errorf("remove old index %v: %w", old.Str(), err)
		}
		rep.OldIndexFiles++
	}
	return rep, nil
}

// oldEntries returns what the readable ones of the index files old list of
// the packs in bad (ID to file size), each blob once and only those that
// end within the file. Unreadable index files are passed over.
func (r *Repository) oldEntries(ctx context.Context, old []id.ID, bad map[id.ID]int64) ([]index.Pack, error) {
	byPack := make(map[id.ID]*index.Pack)
	type entry struct {
		pack id.ID
		blob blob.Blob
	}
	seen := make(map[entry]bool)
	var order []id.ID
	for _, fid := range old {
		f, err := r.readIndexFile(ctx, fid, true)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		for _, p := range f.Packs {
			size, ok := bad[p.ID]
			if !ok {
				continue
			}
			for _, b := range p.Blobs {
				e := entry{p.ID, b}
				if int64(b.Offset)+int64(b.Length) > size || seen[e] {
					continue
				}
				seen[e] = true
				ip := byPack[p.ID]
				if ip == nil {
					ip = &index.Pack{ID: p.ID}
					byPack[p.ID] = ip
					order = append(order, p.ID)
				}
				ip.Blobs = append(ip.Blobs, b)
			}
		}
	}
	out := make([]index.Pack, 0, len(order))
	for _, pid := range order {
		out = append(out, *byPack[pid])
	}
	return out, nil
}

func isNotExist(err error) bool { return err != nil && backendNotExist(err) }

// UpgradeToV2 rewrites the config of a version 1 repository as version 2.
// Nothing else changes: v2 readers read v1 data, and from now on new files
// may be compressed.
func (r *Repository) UpgradeToV2(ctx context.Context) error {
	if r.cfg.Version >= 2 {
		return fmt.Errorf("repository is already version %d", r.cfg.Version)
	}
	cfg := r.cfg
	cfg.Version = 2
	plain, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	raw := r.key.Seal(nil, plain)
	if !r.be.Properties().HasAtomicReplace {
		return fmt.Errorf("upgrade: the backend cannot replace the config file atomically")
	}
	if err := r.be.Save(ctx, configHandle, backend.NewByteReader(raw)); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	r.cfg = cfg
	return nil
}
