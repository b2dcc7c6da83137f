package prune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

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
	// RemovedPacks are the packs deleted by this run (a two-phase prune
	// deletes only when it can finish at once; see Finish).
	RemovedPacks int
	// Condemned are the packs a two-phase prune condemned, Record the
	// file of its pending record (null if it wrote none).
	Condemned int
	Record    id.ID
	// Finish is what finishing the record at once did, if it could.
	Finish FinishResult
}

// Execute carries out a prepared plan in the order the package doc gives,
// so that the repository stays valid if it stops at any point. o must be
// the options the plan was made with (the pack size, in particular). With
// o.Exclusive it deletes packs at once (one phase); otherwise it condemns
// them in a pending record and finishes that record at once only if no
// other process held a lock at the index swap.
func Execute(ctx context.Context, repo *repository.Repository, p *Prepared, o Options, log Logger) (Result, error) {
	var res Result
	if len(p.TempFiles) > 0 {
		log.printf("deleting %d stale temporary files", len(p.TempFiles))
		if err := repo.RemoveTempFiles(ctx, p.TempFiles); err != nil {
			return res, err
		}
		res.TempFiles = len(p.TempFiles)
	}
	if o.Exclusive && len(p.Unreferenced) > 0 {
		log.printf("deleting %d unreferenced packs", len(p.Unreferenced))
		if err := repo.RemoveFiles(ctx, backend.PackFile, p.Unreferenced); err != nil {
			return res, err
		}
		res.UnreferencedPacks = len(p.Unreferenced)
	}
	if !p.RewritesIndex() && (o.Exclusive || len(p.Unreferenced) == 0) {
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

	var written, old []id.ID
	if p.RewritesIndex() {
		log.printf("rebuilding index")
		all := slices.Concat(p.Keep, newPacks)
		slices.SortFunc(all, func(a, b repository.IndexedPack) int { return bytes.Compare(a.ID[:], b.ID[:]) })
		var err error
		written, err = repo.SaveIndexPacks(ctx, all)
		res.NewIndexFiles = len(written)
		if err != nil {
			return res, err
		}
		old = slices.Concat(p.IndexFiles, sessionIndex)
	}

	var condemned []CondemnedPack
	for _, pid := range p.Remove {
		condemned = append(condemned, CondemnedPack{ID: pid, Blobs: p.blobsOf(pid)})
	}
	for _, rp := range p.Repack {
		condemned = append(condemned, CondemnedPack{ID: rp.Pack.ID, Blobs: rp.Pack.List()})
	}
	removeOld := func() error {
		if len(old) == 0 {
			return nil
		}
		log.printf("deleting %d obsolete index files", len(old))
		if err := removeIndexFiles(ctx, repo, old); err != nil {
			return err
		}
		res.RemovedIndexFiles = len(old)
		return nil
	}

	if o.Exclusive || len(condemned)+len(p.Unreferenced) == 0 {
		if err := removeOld(); err != nil {
			return res, err
		}
		if len(condemned) > 0 {
			log.printf("removing %d old packs", len(condemned))
			ids := make([]id.ID, len(condemned))
			for i, c := range condemned {
				ids[i] = c.ID
			}
			if err := repo.RemoveFiles(ctx, backend.PackFile, ids); err != nil {
				return res, err
			}
			res.RemovedPacks = len(condemned)
		}
		return res, nil
	}

	// Two phases: record what is condemned before the swap, so that a
	// stop at any later point leaves a record that the next prune
	// finishes.
	rec := &Record{Created: time.Now(), OldIndex: old, NewIndex: written, Snapshots: p.Snapshots, Packs: condemned, Unindexed: p.Unreferenced}
	log.printf("recording %d condemned packs", len(rec.PackIDs()))
	first, err := saveRecord(ctx, repo, rec)
	if err != nil {
		return res, err
	}
	if err := removeOld(); err != nil {
		return res, err
	}
	fid, err := noteSwap(ctx, repo, first, rec, log)
	if err != nil {
		return res, err
	}
	res.Condemned, res.Record = len(rec.PackIDs()), fid
	if len(rec.Holders) > 0 {
		return res, nil
	}
	// Nobody held a lock at the swap: nobody can use the old index.
	idx, err := repo.LoadPruneIndex(ctx)
	if err != nil {
		return res, err
	}
	res.Finish, err = Finish(ctx, repo, idx, FinishOptions{Grace: o.Grace, Only: fid}, log)
	res.RemovedPacks = res.Finish.Deleted
	return res, err
}

// blobsOf returns the blobs the plan's index lists for pack pid.
func (p *Prepared) blobsOf(pid id.ID) []blob.Blob {
	if p.Index == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(p.Index.Packs, pid, func(a repository.IndexedPack, b id.ID) int { return bytes.Compare(a.ID[:], b[:]) })
	if !ok {
		return nil
	}
	return p.Index.Packs[i].List()
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
