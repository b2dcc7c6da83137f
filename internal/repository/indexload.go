package repository

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/ui"
	"golang.org/x/sync/errgroup"
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
// If fn is not nil, it is called once per file, in ID order, after all of
// them have been read: with the decoded file and a nil error, or (tolerant
// only) with a nil file and the error. The files are then added to the
// index in ID order too, so that the order of a blob's copies does not
// depend on timing. Without fn, files are added as they arrive and not
// kept.
func (r *Repository) loadIndexFiles(ctx context.Context, tolerant bool, fn func(fid id.ID, f *index.File, err error)) (*index.Index, error) {
	ids, err := r.ListIndexIDs(ctx)
	if err != nil {
		return nil, err
	}
	var prog *ui.Progress
	if r.opts.IndexProgress != nil {
		prog = r.opts.IndexProgress(len(ids))
	}
	defer prog.Finish()
	idx := index.New()
	var (
		files []*index.File
		errs  []error
	)
	if fn != nil {
		files = make([]*index.File, len(ids))
		errs = make([]error, len(ids))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, r.be.Properties().Connections))
	for i, fid := range ids {
		g.Go(func() error {
			f, err := r.readIndexFile(gctx, fid, tolerant)
			prog.AddFiles(1)
			switch {
			case err != nil && !tolerant:
				return err
			case fn != nil:
				files[i], errs[i] = f, err
			case err == nil:
				idx.AddFile(f)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if tolerant {
		// Files cut short by ctx were recorded as bad; they are not.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if fn != nil {
		for i, fid := range ids {
			if errs[i] == nil {
				idx.AddFile(files[i])
			}
			fn(fid, files[i], errs[i])
		}
	}
	// Sort now, while nothing else runs, rather than in the first lookup.
	idx.Freeze()
	r.idx.Store(idx)
	return idx, nil
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
