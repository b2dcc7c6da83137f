package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/ui"
)

// ListIndexIDs returns the IDs of all index files, in ID order.
func (r *Repository) ListIndexIDs(ctx context.Context) ([]id.ID, error) {
	var ids []id.ID
	err := r.be.List(ctx, backend.IndexFile, func(fi backend.FileInfo) error {
		if v, err := id.Parse(fi.Name); err == nil {
			ids = append(ids, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list index: %w", err)
	}
	slices.SortFunc(ids, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	return ids, nil
}

// loadIndexFiles lists and reads every index file, concurrently, and makes
// the usable ones the repository's index, which it also returns.
//
// Strict (tolerant false), the first file that cannot be read or decoded
// fails the call. Tolerant, such files are left out of the index and passed
// to fn with their error; only listing and ctx fail the call.
//
// Files are added to the index in ID order, so that the order of a blob's
// copies does not depend on timing, and if fn is not nil it is called once
// per file in that order: with the decoded file and a nil error, or
// (tolerant only) with a nil file and the error. Files are read a few
// ahead of the one being added and dropped once added, so that memory
// holds the index and a bounded number of decoded files, never all.
func (r *Repository) loadIndexFiles(ctx context.Context, tolerant bool, fn func(fid id.ID, f *index.File, err error)) (*index.Index, error) {
	// A file removed between the listing and its reading was replaced by
	// a prune (which writes the new index files before it removes the old
	// ones): list again and start over, a few times. Only without fn,
	// which would have seen the files of the failed attempt (the callers
	// with fn hold locks that no prune runs beside).
	for attempt := 1; ; attempt++ {
		idx, err := r.loadIndexOnce(ctx, tolerant, fn)
		if fn == nil && errors.Is(err, backend.ErrNotExist) && attempt < 5 && ctx.Err() == nil {
			continue
		}
		return idx, err
	}
}

// loadIndexOnce is one attempt of loadIndexFiles.
func (r *Repository) loadIndexOnce(ctx context.Context, tolerant bool, fn func(fid id.ID, f *index.File, err error)) (*index.Index, error) {
	ids, err := r.ListIndexIDs(ctx)
	if err != nil {
		return nil, err
	}
	r.indexFiles.Store(&ids)
	var prog *ui.Progress
	if r.opts.IndexProgress != nil {
		prog = r.opts.IndexProgress(len(ids))
	}
	defer prog.Finish()
	idx := index.New()

	type result struct {
		f   *index.File
		err error
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel below, which stops the workers
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(2, r.be.Properties().Connections)
	// ahead bounds the files read but not yet added: the workers' and a
	// few done out of order.
	ahead := make(chan struct{}, 2*workers)
	results := make([]chan result, len(ids))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	work := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f, err := r.readIndexFile(ctx, ids[i], tolerant)
				prog.AddFiles(1)
				results[i] <- result{f, err}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range ids {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	// withPacks are the files that added blobs: those CheckIndexFiles
	// watches (removing an empty one, such as a prune's record, takes
	// nothing away).
	withPacks := make([]id.ID, 0, len(ids))
	var pending []PendingRecord
	for i, fid := range ids {
		var res result
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		<-ahead
		if res.err != nil && !tolerant {
			if errors.Is(res.err, ErrInvalidData) {
				return nil, fmt.Errorf("%w (`cairn repair index` rebuilds the index from the pack files)", res.err)
			}
			return nil, res.err
		}
		if tolerant && res.err != nil && ctx.Err() != nil {
			// Cut short by ctx, not bad.
			return nil, ctx.Err()
		}
		if res.err == nil {
			idx.AddFile(res.f)
			if len(res.f.Packs) > 0 {
				withPacks = append(withPacks, fid)
			}
			if rec, ok := pendingOf(fid, res.f); ok {
				pending = append(pending, rec)
			}
		}
		if fn != nil {
			fn(fid, res.f, res.err)
		}
	}
	// Sort now, while nothing else runs, rather than in the first lookup.
	idx.Freeze()
	r.idx.Store(idx)
	r.indexFiles.Store(&withPacks)
	r.pending.Store(&pending)
	return idx, nil
}

// PendingRecords returns the records of two-phase prunes that the last
// index load found (see PruneIndex.Pending).
func (r *Repository) PendingRecords() []PendingRecord {
	if p := r.pending.Load(); p != nil {
		return *p
	}
	return nil
}

// readIndexFile reads and decodes one index file. A decode error wraps
// ErrInvalidData and names the file, unless tolerant: tolerant callers
// report the file's ID with the error themselves.
func (r *Repository) readIndexFile(ctx context.Context, fid id.ID, tolerant bool) (*index.File, error) {
	doc, err := r.LoadUnpacked(ctx, backend.IndexFile, fid)
	if err != nil {
		return nil, err
	}
	f, err := index.Decode(doc, r.cfg.Version)
	switch {
	case err == nil:
		return f, nil
	case tolerant:
		return nil, fmt.Errorf("%w: %v", ErrInvalidData, err)
	}
	return nil, fmt.Errorf("%w: index %v: %v", ErrInvalidData, fid.Str(), err)
}
