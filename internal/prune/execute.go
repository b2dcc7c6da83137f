package prune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/ui"
	"golang.org/x/sync/errgroup"
)

// Result counts what Execute did.
type Result struct {
	TempFiles         int
	UnreferencedPacks int
	RepackedBlobs     int
	NewPacks          int
	NewIndexFiles     int
	RemovedIndexFiles int
	RemovedPacks      int
}

// Execute carries out a prepared plan in the order the package doc gives,
// so that the repository stays valid if it stops at any point. o must be
// the options the plan was made with (the pack size, in particular).
func Execute(ctx context.Context, repo *repository.Repository, p *Prepared, o Options, log Logger) (Result, error) {
	var res Result
	if len(p.TempFiles) > 0 {
		log.printf("deleting %d stale temporary files", len(p.TempFiles))
		if err := repo.RemoveTempFiles(ctx, p.TempFiles); err != nil {
			return res, err
		}
		res.TempFiles = len(p.TempFiles)
	}
	if len(p.Unreferenced) > 0 {
		log.printf("deleting %d unreferenced packs", len(p.Unreferenced))
		if err := repo.RemoveFiles(ctx, backend.PackFile, p.Unreferenced); err != nil {
			return res, err
		}
		res.UnreferencedPacks = len(p.Unreferenced)
	}
	if !p.RewritesIndex() {
		return res, nil
	}

	var newPacks []repository.IndexedPack
	var sessionIndex []id.ID
	if len(p.Repack) > 0 {
		log.printf("repacking %d packs", len(p.Repack))
		var err error
		newPacks, sessionIndex, err = repack(ctx, repo, p.Plan, o)
		if err != nil {
			return res, err
		}
		res.NewPacks = len(newPacks)
		for _, rp := range p.Repack {
			res.RepackedBlobs += len(rp.Copy)
		}
	}

	log.printf("rebuilding index")
	all := slices.Concat(p.Keep, newPacks)
	slices.SortFunc(all, func(a, b repository.IndexedPack) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	written, err := repo.SaveIndexPacks(ctx, all)
	res.NewIndexFiles = len(written)
	if err != nil {
		return res, err
	}
	old := slices.Concat(p.IndexFiles, sessionIndex)
	log.printf("deleting %d obsolete index files", len(old))
	if err := repo.RemoveFiles(ctx, backend.IndexFile, old); err != nil {
		return res, err
	}
	res.RemovedIndexFiles = len(old)

	packs := slices.Clone(p.Remove)
	for _, rp := range p.Repack {
		packs = append(packs, rp.Pack.ID)
	}
	if len(packs) > 0 {
		log.printf("removing %d old packs", len(packs))
		if err := repo.RemoveFiles(ctx, backend.PackFile, packs); err != nil {
			return res, err
		}
		res.RemovedPacks = len(packs)
	}
	return res, nil
}

// repack copies the needed blobs of the packs to repack into new packs
// and returns those packs, read back from the index files the write
// session stored, and the IDs of these files.
func repack(ctx context.Context, repo *repository.Repository, plan *Plan, o Options) ([]repository.IndexedPack, []id.ID, error) {
	before, err := repo.ListIndexIDs(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := repo.StartRepacking(ctx, plan.Keep, repository.WriteOptions{PackSize: o.PackSize}); err != nil {
		return nil, nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, repo.Connections()))
	var prog *ui.Progress
	if o.RepackProgress != nil {
		prog = o.RepackProgress(len(plan.Repack))
	}
	for _, rp := range plan.Repack {
		if len(rp.Copy) == 0 {
			prog.AddFiles(1)
			continue
		}
		g.Go(func() error {
			defer prog.AddFiles(1)
			locs := make([]blob.PackedBlob, len(rp.Copy))
			for i, b := range rp.Copy {
				locs[i] = rp.Pack.Location(b)
			}
			return repo.StreamPack(gctx, locs, func(loc blob.PackedBlob, plain []byte, err error) error {
				if err != nil {
					return fmt.Errorf("repack: %w", err)
				}
				_, _, _, err = repo.SaveBlob(gctx, loc.Handle.Type, plain, loc.Handle.ID)
				return err
			})
		})
	}
	werr := g.Wait()
	prog.Finish()
	// Finish indexes whatever packs reached the backend, even after a
	// failure: they then only duplicate blobs, which the next run tidies.
	_, ferr := repo.Finish(ctx)
	if err := errors.Join(werr, ferr); err != nil {
		return nil, nil, err
	}

	after, err := repo.ListIndexIDs(ctx)
	if err != nil {
		return nil, nil, err
	}
	var session []id.ID
	var packs []repository.IndexedPack
	for _, fid := range after {
		if _, ok := slices.BinarySearchFunc(before, fid, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) }); ok {
			continue
		}
		session = append(session, fid)
		ps, err := repo.LoadIndexPacks(ctx, fid)
		if err != nil {
			return nil, nil, err
		}
		packs = append(packs, ps...)
	}

	// Every blob to copy must now be in a new pack.
	have := make(map[blob.Handle]struct{})
	for _, np := range packs {
		for _, b := range np.List() {
			have[b.Handle] = struct{}{}
		}
	}
	for _, rp := range plan.Repack {
		for _, b := range rp.Copy {
			if _, ok := have[b.Handle]; !ok {
				return nil, nil, fmt.Errorf("repack: blob %v was not written to a new pack; stopping before anything is deleted", b.Handle)
			}
		}
	}
	return packs, session, nil
}
