package prune

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// Logger receives one line about each phase of a prune; nil is silent.
type Logger func(format string, args ...any)

func (l Logger) printf(format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}

// TempFileAge is how old a temporary file must be before prune deletes it.
const TempFileAge = time.Hour

// Prepared is a plan together with what carrying it out needs.
type Prepared struct {
	*Plan
	// IndexFiles are the index files the plan was made from; a rewrite
	// replaces them.
	IndexFiles []id.ID
	// TempFiles are stale temporary files to delete (backend.TempSweeper).
	TempFiles []string
	// Snapshots are the snapshots the plan was made from (those ignored
	// included).
	Snapshots []id.ID
	// Index is the index the plan was made from.
	Index *repository.PruneIndex
}

// Prepare loads the snapshots (except those in ignore, which forget is
// removing) and then the index, finds the blobs still in use and makes a
// plan. It changes nothing. The repository should be locked exclusively,
// or with a prune lock. Snapshots come first: a writer indexes its blobs
// before it saves its snapshot, so the index read afterwards has the
// blobs of every snapshot listed.
//
// The packs of pending records are left out of the plan: their records
// decide them. Blobs that snapshots use and that only such packs hold
// (snapshots saved by backups that read the index before the record's
// swap) are not needed from the index; phase 2 of their record indexes
// those packs again.
func Prepare(ctx context.Context, repo *repository.Repository, o Options, ignore id.Set, log Logger) (*Prepared, error) {
	log.printf("loading all snapshots...")
	snaps, err := snapshot.LoadAll(ctx, repo, nil)
	if err != nil {
		return nil, err
	}
	log.printf("loading indexes...")
	idx, err := repo.LoadPruneIndex(ctx)
	if err != nil {
		return nil, err
	}
	var recs []*Record
	pendingPacks := id.NewSet() // those no index names
	indexed := id.NewSet()
	for _, p := range idx.Packs {
		indexed.Insert(p.ID)
	}
	for _, pr := range idx.Pending {
		rec, err := DecodeRecord(pr.Record)
		if err != nil {
			return nil, fmt.Errorf("pending prune %s: %w", pr.ID.Str(), err)
		}
		recs = append(recs, rec)
		for _, pid := range rec.PackIDs() {
			if !indexed.Has(pid) {
				pendingPacks.Insert(pid)
			}
		}
	}
	var roots, all []id.ID
	for _, s := range snaps {
		all = append(all, s.ID)
		if !ignore.Has(s.ID) {
			roots = append(roots, *s.Tree)
		}
	}
	log.printf("finding data that is still in use for %d snapshots", len(roots))
	used, err := FindUsed(ctx, newRecordLoader(repo, recs), roots)
	if err != nil {
		return nil, fmt.Errorf("find used blobs: %w", err)
	}
	if len(recs) > 0 {
		held := make(map[blob.Handle]bool)
		for _, r := range recs {
			for _, p := range r.Packs {
				for _, b := range p.Blobs {
					held[b.Handle] = true
				}
			}
		}
		for h := range used {
			if held[h] && !repo.HasBlob(h) {
				delete(used, h)
			}
		}
	}
	log.printf("searching used packs...")
	stored := make(map[id.ID]int64)
	err = repo.ListFiles(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		if pid, err := id.Parse(fi.Name); err == nil && !pendingPacks.Has(pid) {
			stored[pid] = fi.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	log.printf("collecting packs for deletion and repacking")
	plan, err := Decide(Input{Packs: idx.Packs, Stored: stored, Used: used, RepoVersion: repo.Config().Version}, o)
	if err != nil {
		return nil, err
	}
	temps, err := repo.StaleTempFiles(ctx, TempFileAge)
	if err != nil {
		return nil, err
	}
	return &Prepared{Plan: plan, IndexFiles: idx.Files, TempFiles: temps, Snapshots: all, Index: idx}, nil
}
