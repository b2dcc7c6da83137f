package prune

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// FinishOptions control phase 2.
type FinishOptions struct {
	// Grace is how long a record that had holders waits after its swap.
	Grace time.Duration
	// Force finishes records without waiting for holders or the grace:
	// for a prune that holds an exclusive lock, beside which nothing runs.
	Force bool
	// Only, when not null, limits Finish to the record in this file.
	Only id.ID
}

// FinishResult counts what Finish did.
type FinishResult struct {
	// Records is the number of pending records found, Finished of those
	// finished, Waiting of those that must wait (WaitingPacks their packs).
	Records, Finished, Waiting, WaitingPacks int
	// Reindexed packs were indexed again, Deleted packs deleted.
	Reindexed, Deleted int
	// Lost counts blobs that snapshots use and no pack holds.
	Lost int
	// Changed is true when Finish wrote or removed anything.
	Changed bool
}

// Finish carries out phase 2 of the pending records of pidx (from
// repo.LoadPruneIndex), oldest first; see the package doc.
func Finish(ctx context.Context, repo *repository.Repository, pidx *repository.PruneIndex, o FinishOptions, log Logger) (FinishResult, error) {
	var res FinishResult
	type entry struct {
		fid id.ID
		rec *Record
	}
	var recs []entry
	// claimed maps each pack to the newest record that condemns it: an
	// older record leaves such a pack to the newer one, whose holders may
	// still use it (it was indexed again, by a backup's index, before the
	// newer prune condemned it).
	claimed := make(map[id.ID]time.Time)
	var all []*Record // every readable record: their packs hold trees
	for _, pr := range pidx.Pending {
		rec, err := DecodeRecord(pr.Record)
		if err == nil {
			all = append(all, rec)
			for _, pid := range rec.PackIDs() {
				if t, ok := claimed[pid]; !ok || rec.Created.After(t) {
					claimed[pid] = rec.Created
				}
			}
		}
		if !o.Only.IsNull() && pr.ID != o.Only {
			continue
		}
		if err != nil {
			// Its packs stay: deciding on a record one cannot read
			// could delete data still in use.
			log.printf("pending prune %s: %v; leaving its packs alone", pr.ID.Str(), err)
			res.Records++
			res.Waiting++
			continue
		}
		recs = append(recs, entry{pr.ID, rec})
	}
	res.Records += len(recs)
	if len(recs) == 0 {
		return res, nil
	}
	slices.SortFunc(recs, func(a, b entry) int { return a.rec.Created.Compare(b.rec.Created) })

	indexed := make(id.Set, len(pidx.Packs))
	for _, p := range pidx.Packs {
		indexed.Insert(p.ID)
	}
	files := id.NewSet(pidx.Files...)
	var stored map[id.ID]int64
	var snaps []*snapshot.Snapshot
	for _, e := range recs {
		fid, rec := e.fid, e.rec
		swapped := "not confirmed"
		if !rec.Swapped.IsZero() {
			swapped = rec.Swapped.Local().Format(time.DateTime)
		}
		log.printf("finishing pending prune %s: %d condemned packs, index swapped %s", fid.Str(), len(rec.PackIDs()), swapped)
		if rec.Swapped.IsZero() {
			nfid, ok, err := confirmSwap(ctx, repo, fid, rec, files, log)
			if err != nil {
				return res, err
			}
			res.Changed = true
			if !ok {
				// Abandoned: its packs are indexed again.
				n, err := reindexAll(ctx, repo, fid, rec, indexed, log)
				res.Reindexed += n
				if err != nil {
					return res, err
				}
				res.Finished++
				continue
			}
			fid = nfid
		}
		created := rec.Created
		in := FinishInput{Record: rec, Now: time.Now(), Grace: o.Grace, Force: o.Force, Indexed: func(pid id.ID) bool {
			return indexed.Has(pid) || claimed[pid].After(created)
		}}
		if !o.Force {
			held, err := lock.StillHeld(ctx, repo, rec.Holders)
			if err != nil {
				return res, err
			}
			in.StillHeld = len(held)
		}
		in.Stored = func(id.ID) bool { return true }
		if plan := DecideFinish(in); plan.Wait != "" {
			log.printf("pending prune %s: %s", fid.Str(), plan.Wait)
			res.Waiting++
			res.WaitingPacks += len(rec.PackIDs())
			continue
		}

		if stored == nil {
			var err error
			// The holders are gone: read the index again, so that what
			// they indexed last (packs this record holds as unindexed,
			// blobs of their snapshots) counts.
			// Snapshots first: their blobs are indexed before they are
			// saved, so the index read next has them all.
			if snaps, err = snapshot.LoadAll(ctx, repo, nil); err != nil {
				return res, err
			}
			fresh, err := repo.LoadPruneIndex(ctx)
			if err != nil {
				return res, err
			}
			for _, p := range fresh.Packs {
				indexed.Insert(p.ID)
			}
			if stored, err = listPacks(ctx, repo); err != nil {
				return res, err
			}
		}
		in.Stored = func(pid id.ID) bool { _, ok := stored[pid]; return ok }
		needed, err := neededFrom(ctx, repo, snaps, []*Record{rec}, all)
		if err != nil {
			return res, err
		}
		in.Needed = needed
		plan := DecideFinish(in)
		plan.Lost = slices.DeleteFunc(plan.Lost, func(h blob.Handle) bool { return heldByAny(all, h) })
		if len(plan.Lost) > 0 {
			log.printf("warning: %d blobs that snapshots use are in no pack (the repository was damaged before); run check", len(plan.Lost))
			res.Lost += len(plan.Lost)
		}
		if len(plan.Reindex) > 0 {
			log.printf("re-indexing %d condemned packs that new snapshots use", len(plan.Reindex))
			if err := saveCondemned(ctx, repo, plan.Reindex); err != nil {
				return res, err
			}
			for _, p := range plan.Reindex {
				indexed.Insert(p.ID)
			}
			res.Reindexed += len(plan.Reindex)
			res.Changed = true
		}
		if len(plan.Delete) > 0 {
			log.printf("deleting %d condemned packs", len(plan.Delete))
			if err := repo.RemoveFiles(ctx, backend.PackFile, plan.Delete); err != nil {
				return res, err
			}
			for _, pid := range plan.Delete {
				delete(stored, pid)
			}
			res.Deleted += len(plan.Delete)
			res.Changed = true
		}
		log.printf("removing pending prune record %s", fid.Str())
		if err := removeIndexFiles(ctx, repo, []id.ID{fid}); err != nil {
			return res, err
		}
		res.Changed = true
		res.Finished++
	}
	return res, nil
}

// confirmSwap completes the swap of a record written before it (the prune
// stopped between writing the record and confirming the swap). When every
// new index file of the record exists, the rest of the old ones are
// removed, the holders listed and the record rewritten with them; the new
// record's file is returned with ok. Otherwise (the new index is not
// whole: someone rebuilt the index meanwhile) ok is false and the record
// is to be abandoned.
func confirmSwap(ctx context.Context, repo *repository.Repository, fid id.ID, rec *Record, files id.Set, log Logger) (id.ID, bool, error) {
	for _, nf := range rec.NewIndex {
		if !files.Has(nf) {
			log.printf("pending prune %s: its new index is incomplete; indexing its packs again", fid.Str())
			return id.ID{}, false, nil
		}
	}
	var old []id.ID
	for _, of := range rec.OldIndex {
		if files.Has(of) {
			old = append(old, of)
		}
	}
	log.printf("deleting %d obsolete index files", len(old))
	if err := removeIndexFiles(ctx, repo, old); err != nil {
		return id.ID{}, false, err
	}
	for _, of := range old {
		delete(files, of)
	}
	nfid, err := noteSwap(ctx, repo, fid, rec, log)
	return nfid, err == nil, err
}

// noteSwap lists the holders of locks now that the old index files are
// gone, writes the record again with them and the swap time, and removes
// the record's previous file (unless null).
func noteSwap(ctx context.Context, repo *repository.Repository, prev id.ID, rec *Record, log Logger) (id.ID, error) {
	holders, err := lock.Holders(ctx, repo)
	if err != nil {
		return id.ID{}, err
	}
	log.printf("noting %d locks held at the index swap", len(holders))
	rec.Swapped, rec.Holders = time.Now(), holders
	fid, err := saveRecord(ctx, repo, rec)
	if err != nil {
		return id.ID{}, err
	}
	if !prev.IsNull() {
		if err := removeIndexFiles(ctx, repo, []id.ID{prev}); err != nil {
			return id.ID{}, err
		}
	}
	return fid, nil
}

// saveRecord stores a record.
func saveRecord(ctx context.Context, repo *repository.Repository, rec *Record) (id.ID, error) {
	if rec.Hostname == "" {
		rec.Hostname, _ = os.Hostname()
	}
	doc, err := rec.Encode()
	if err != nil {
		return id.ID{}, err
	}
	return repo.SavePendingRecord(ctx, doc)
}

// reindexAll indexes every stored condemned pack of an abandoned record
// that no index names, then removes the record.
func reindexAll(ctx context.Context, repo *repository.Repository, fid id.ID, rec *Record, indexed id.Set, log Logger) (int, error) {
	stored, err := listPacks(ctx, repo)
	if err != nil {
		return 0, err
	}
	var back []CondemnedPack
	for _, p := range rec.Packs {
		if _, ok := stored[p.ID]; ok && !indexed.Has(p.ID) {
			back = append(back, p)
			indexed.Insert(p.ID)
		}
	}
	if len(back) > 0 {
		log.printf("re-indexing %d condemned packs", len(back))
		if err := saveCondemned(ctx, repo, back); err != nil {
			return 0, err
		}
	}
	log.printf("removing pending prune record %s", fid.Str())
	return len(back), removeIndexFiles(ctx, repo, []id.ID{fid})
}

// saveCondemned writes index files for condemned packs.
func saveCondemned(ctx context.Context, repo *repository.Repository, packs []CondemnedPack) error {
	ips := make([]repository.IndexedPack, len(packs))
	for i, p := range packs {
		ips[i] = repository.IndexedPack{ID: p.ID, Blobs: p.Blobs}
	}
	_, err := repo.SaveIndexPacks(ctx, ips)
	return err
}

// listPacks maps every pack file to its size.
func listPacks(ctx context.Context, repo *repository.Repository) (map[id.ID]int64, error) {
	stored := make(map[id.ID]int64)
	err := repo.ListFiles(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		if pid, err := id.Parse(fi.Name); err == nil {
			stored[pid] = fi.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	return stored, nil
}

// heldByAny reports whether a condemned pack of one of recs holds h.
func heldByAny(recs []*Record, h blob.Handle) bool {
	for _, r := range recs {
		for _, p := range r.Packs {
			for _, b := range p.Blobs {
				if b.Handle == h {
					return true
				}
			}
		}
	}
	return false
}

// neededFrom returns the blobs that snapshots unknown to one of recs use
// and that the repository's index lacks. Trees are read from the index
// or, failing that, from the condemned packs of any of trees (every
// pending record: a snapshot may use trees another record condemned).
func neededFrom(ctx context.Context, repo *repository.Repository, snaps []*snapshot.Snapshot, recs, trees []*Record) (map[blob.Handle]struct{}, error) {
	var roots []id.ID
	for _, s := range snaps {
		for _, r := range recs {
			if !slices.Contains(r.Snapshots, s.ID) {
				roots = append(roots, *s.Tree)
				break
			}
		}
	}
	if len(roots) == 0 {
		return nil, nil
	}
	used, err := FindUsed(ctx, newRecordLoader(repo, trees), roots)
	if err != nil {
		return nil, fmt.Errorf("find blobs of snapshots saved since the index swap: %w", err)
	}
	for h := range used {
		if repo.HasBlob(h) {
			delete(used, h)
		}
	}
	return used, nil
}

// TreeLoader returns a BlobLoader for a backup's parent trees: through the
// repository's index and, for a tree the index lacks, from the condemned
// packs of the pending records the last index load found (a parent saved
// by a backup that read the index before a swap may have its trees only
// there until phase 2). Records that cannot be read are left out.
func TreeLoader(repo *repository.Repository) BlobLoader {
	var recs []*Record
	for _, pr := range repo.PendingRecords() {
		if rec, err := DecodeRecord(pr.Record); err == nil {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return repo
	}
	return newRecordLoader(repo, recs)
}

// recordLoader loads blobs through the repository's index and, for
// trees it lacks, from the condemned packs of pending records.
type recordLoader struct {
	repo  *repository.Repository
	trees map[id.ID]blob.PackedBlob
}

func newRecordLoader(repo *repository.Repository, recs []*Record) *recordLoader {
	l := &recordLoader{repo: repo, trees: make(map[id.ID]blob.PackedBlob)}
	for _, r := range recs {
		for _, p := range r.Packs {
			for _, b := range p.Blobs {
				if b.Type == blob.Tree {
					l.trees[b.ID] = blob.PackedBlob{Blob: b, PackID: p.ID}
				}
			}
		}
	}
	return l
}

// LoadBlob implements BlobLoader.
func (l *recordLoader) LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error) {
	loc, ok := l.trees[h.ID]
	if l.repo.HasBlob(h) || h.Type != blob.Tree || !ok {
		return l.repo.LoadBlob(ctx, h)
	}
	var out []byte
	err := l.repo.StreamPack(ctx, []blob.PackedBlob{loc}, func(_ blob.PackedBlob, plain []byte, err error) error {
		if err != nil {
			return err
		}
		out = bytes.Clone(plain)
		return nil
	})
	return out, err
}

// Index readers: restic lists the index files right after writing its
// lock and fails if one of them is gone when it reads it (cairn lists
// again). Before removing index files, a prune beside restic waits, for
// at most readerWaitMax, until no restic lock is younger than readerAge:
// a restic that took its lock earlier has read the index by then (in a
// repository of ordinary size; its cache also keeps the index files it
// read before).
const (
	readerAge     = 10 * time.Second
	readerWaitMax = 30 * time.Second
)

// removeIndexFiles removes index files once no restic process seems to be
// reading the index (see readerAge).
func removeIndexFiles(ctx context.Context, repo *repository.Repository, ids []id.ID) error {
	if len(ids) == 0 {
		return nil
	}
	deadline := time.Now().Add(readerWaitMax)
	for time.Now().Before(deadline) {
		ls, err := lock.List(ctx, repo)
		if err != nil {
			return err
		}
		young := false
		now := time.Now()
		for _, l := range ls {
			if l.Queued.IsZero() && now.Sub(l.Time) < readerAge && !l.Dead() {
				young = true
			}
		}
		if !young {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return repo.RemoveFiles(ctx, backend.IndexFile, ids)
}
