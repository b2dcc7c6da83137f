package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/pack"
)

// This file holds what a repository checker needs below the level of
// plain blobs: the index file by file, pack headers and whole packs. The
// results are plain structs so that the checker needs neither index nor
// pack.

// IndexFileError is an index file that could not be read or decoded.
type IndexFileError struct {
	ID  id.ID
	Err error
}

// IndexContents is what the index files of a repository say, file by file
// where that matters to a checker.
type IndexContents struct {
	// Files is the number of index files listed.
	Files int
	// Bad lists the index files that could not be used, by ID order.
	Bad []IndexFileError
	// IndexFiles maps every pack to the index files that name it.
	IndexFiles map[id.ID][]id.ID
	// Pending are the records of two-phase prunes between their phases.
	Pending []PendingRecord

	// packs lists each pack's blobs from the in-memory index, which
	// holds every entry of the usable files without repeats, instead of
	// a second copy of them.
	packs *index.PackView
	idx   *index.Index
}

// PackIDs returns every pack a usable index file names, in ID order.
// The caller must not change the slice.
func (c *IndexContents) PackIDs() []id.ID { return c.packs.IDs() }

// PackBlobs returns the blobs of pack pid in offset order, without
// repeats (several index files may describe the same pack); nil for a
// pack no usable index file names.
func (c *IndexContents) PackBlobs(pid id.ID) []blob.Blob { return c.packs.Blobs(pid, nil) }

// HasPack reports whether a usable index file names pack pid.
func (c *IndexContents) HasPack(pid id.ID) bool { return c.packs.Len(pid) > 0 }

// DuplicateBlobs returns the number of blobs stored more than once.
func (c *IndexContents) DuplicateBlobs() int { return c.idx.Duplicates() }

// Close releases the pack listing; the repository's index stays.
func (c *IndexContents) Close() { c.packs.Close() }

// LoadIndexForCheck reads every index file like LoadIndex, but an index
// file that cannot be loaded or decoded is recorded in Bad instead of
// failing the call. The usable files become the repository's index, so
// that LoadBlob and HasBlob work afterwards. The error is that of listing
// the index files or of ctx.
func (r *Repository) LoadIndexForCheck(ctx context.Context) (*IndexContents, error) {
	out := &IndexContents{IndexFiles: make(map[id.ID][]id.ID)}
	idx, err := r.loadIndexFiles(ctx, true, func(fid id.ID, f *index.File, err error) {
		out.Files++
		if err != nil {
			out.Bad = append(out.Bad, IndexFileError{ID: fid, Err: err})
			return
		}
		if rec, ok := pendingOf(fid, f); ok {
			out.Pending = append(out.Pending, rec)
		}
		for _, p := range f.Packs {
			if len(p.Blobs) > 0 && !slices.Contains(out.IndexFiles[p.ID], fid) {
				out.IndexFiles[p.ID] = append(out.IndexFiles[p.ID], fid)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	out.packs, out.idx = idx.PackView(), idx
	return out, nil
}

// appendNew appends to have those of add it does not hold yet.
func appendNew(have, add []blob.Blob) []blob.Blob {
	var seen map[blob.Blob]bool // only for a pack seen before
	if len(have) > 0 {
		seen = make(map[blob.Blob]bool, len(have))
		for _, b := range have {
			seen[b] = true
		}
	}
	for _, b := range add {
		if seen == nil || !seen[b] {
			have = append(have, b)
		}
	}
	return have
}

// PackSize returns the size a pack holding exactly blobs must have: the
// end of its last blob plus its header.
func PackSize(blobs []blob.Blob) int64 {
	var end int64
	for _, b := range blobs {
		end = max(end, int64(b.Offset)+int64(b.Length))
	}
	return end + int64(pack.HeaderSize(blobs))
}

// ReadPackHeader reads the header at the end of pack pid, which is size
// bytes long, and returns its blobs in file order. Bytes that are not a
// valid header give an error wrapping ErrInvalidData.
func (r *Repository) ReadPackHeader(ctx context.Context, pid id.ID, size int64) ([]blob.Blob, error) {
	ra := &packReaderAt{ctx: ctx, be: r.be, h: backend.Handle{Type: backend.PackFile, Name: pid.String()}}
	blobs, err := pack.ReadHeader(ctx, ra, size, r.key)
	if errors.Is(err, pack.ErrInvalid) {
		err = fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	if err != nil {
		return nil, err
	}
	return blobs, nil
}

// packReaderAt reads ranges of one file through the backend.
type packReaderAt struct {
	ctx context.Context
	be  backend.Backend
	h   backend.Handle
}

func (p *packReaderAt) ReadAt(buf []byte, off int64) (int, error) {
	n := 0
	err := p.be.Load(p.ctx, p.h, len(buf), off, func(rd io.Reader) error {
		var err error
		n, err = io.ReadFull(rd, buf)
		return err
	})
	return n, err
}

// BlobError is a blob of a pack that does not decrypt, decompress or hash
// to its ID.
type BlobError struct {
	Blob blob.Blob
	Err  error
}

// PackReport is what reading a whole pack found.
type PackReport struct {
	// ID is the pack's name.
	ID id.ID
	// Size is the number of bytes read.
	Size int64
	// Hash is the SHA-256 of those bytes; it should be the pack's ID.
	Hash id.ID
	// HeaderErr is why the header could not be used, if it could not.
	// The blobs are then checked where the index puts them.
	HeaderErr error
	// Checked is the number of blobs checked.
	Checked int
	// BadBlobs lists the damaged ones, in file order.
	BadBlobs []BlobError
}

// Damaged reports whether anything is wrong with the pack.
func (p *PackReport) Damaged() bool {
	return p.Hash != p.ID || p.HeaderErr != nil || len(p.BadBlobs) > 0
}

// ReadPack reads the whole pack file pid, hashes it and verifies every
// blob its header lists (or, with an unusable header, every blob of
// indexed, the index's view of the pack). Every blob is decrypted,
// decompressed and hashed. The error is that of reading the file; what is
// wrong with its bytes is in the report.
func (r *Repository) ReadPack(ctx context.Context, pid id.ID, indexed []blob.Blob) (*PackReport, error) {
	h := backend.Handle{Type: backend.PackFile, Name: pid.String()}
	raw, err := backend.LoadAll(ctx, r.be, h)
	if err != nil {
		return nil, fmt.Errorf("read pack %v: %w", pid.Str(), err)
	}
	rep := &PackReport{ID: pid, Size: int64(len(raw)), Hash: id.Hash(raw)}
	blobs, err := pack.ReadHeader(ctx, bytes.NewReader(raw), int64(len(raw)), r.key)
	if err != nil {
		rep.HeaderErr = fmt.Errorf("%w: %w", ErrInvalidData, err)
		blobs = indexed
	}
	sb := checkBufs.Get().(*checkBuf)
	defer checkBufs.Put(sb)
	for _, l := range blobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Checked++
		end := int64(l.Offset) + int64(l.Length)
		if end > int64(len(raw)) {
			rep.BadBlobs = append(rep.BadBlobs, BlobError{Blob: l, Err: fmt.Errorf("%w: blob ends at byte %d, beyond the end of the %d-byte pack", ErrInvalidData, end, len(raw))})
			continue
		}
		// Decrypt a copy: positions from a bad index may overlap.
		sb.raw = append(sb.raw[:0], raw[l.Offset:end]...)
		var berr error
		_, sb.out, berr = r.decodeBlob(pid, l, sb.raw, sb.out)
		if berr != nil {
			rep.BadBlobs = append(rep.BadBlobs, BlobError{Blob: l, Err: berr})
		}
	}
	return rep, nil
}

// checkBuf holds the buffers one ReadPack call reuses from the last.
type checkBuf struct{ raw, out []byte }

var checkBufs = sync.Pool{New: func() any { return new(checkBuf) }}
