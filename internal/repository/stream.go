package repository

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// Locate returns every known copy of a blob, from the loaded index.
func (r *Repository) Locate(h blob.Handle) []blob.PackedBlob {
	idx := r.idx.Load()
	if idx == nil {
		return nil
	}
	return idx.Lookup(h)
}

// maxStreamGap is the largest run of unwanted bytes StreamPack reads
// through rather than starting a new request.
const maxStreamGap = 1 << 20

// StreamPack reads the given blobs of one pack (all with the same PackID)
// with as few requests as sensible, and calls fn with each blob's verified
// plaintext, in pack order. plain is only valid during the call. A blob
// that fails to decrypt, decompress or hash is passed to fn with a nil
// plain and the error, and streaming goes on. A read of several blobs that
// fails (a pack cut short, say) is tried again blob by blob, so that the
// blobs that can still be read are; each one that cannot is passed to fn
// with its error. An error from fn, a missing pack or ctx stops it. Bytes
// read from the backend are counted in BytesFetched.
func (r *Repository) StreamPack(ctx context.Context, blobs []blob.PackedBlob, fn func(loc blob.PackedBlob, plain []byte, err error) error) error {
	sb := streamBufs.Get().(*streamBuf)
	defer streamBufs.Put(sb)
	return r.streamPack(ctx, sb, blobs, fn)
}

// StreamBuffer is what StreamPackWith reuses from one call to the next: a
// caller that streams many packs from a fixed set of goroutines keeps one
// per goroutine, and so holds exactly that many buffers (a sync.Pool may
// hand out more than there are goroutines).
type StreamBuffer struct{ sb streamBuf }

// NewStreamBuffer returns an empty StreamBuffer.
func NewStreamBuffer() *StreamBuffer {
	return &StreamBuffer{sb: streamBuf{br: bufio.NewReaderSize(nil, 64<<10)}}
}

// StreamPackWith is StreamPack with the caller's buffers; buf must not be
// used by two calls at once.
func (r *Repository) StreamPackWith(ctx context.Context, buf *StreamBuffer, blobs []blob.PackedBlob, fn func(loc blob.PackedBlob, plain []byte, err error) error) error {
	return r.streamPack(ctx, &buf.sb, blobs, fn)
}

func (r *Repository) streamPack(ctx context.Context, sb *streamBuf, blobs []blob.PackedBlob, fn func(loc blob.PackedBlob, plain []byte, err error) error) error {
	if len(blobs) == 0 {
		return nil
	}
	sorted := append([]blob.PackedBlob(nil), blobs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Offset < sorted[j].Offset })
	pid := sorted[0].PackID
	h := backend.Handle{Type: backend.PackFile, Name: pid.String()}
	buf, out := sb.raw, sb.out
	defer func() { sb.raw, sb.out = buf[:0], out[:0] }()
	for start := 0; start < len(sorted); {
		end := start + 1
		for end < len(sorted) && int64(sorted[end].Offset)-int64(sorted[end-1].Offset)-int64(sorted[end-1].Length) <= maxStreamGap {
			end++
		}
		group := sorted[start:end]
		first := int64(group[0].Offset)
		last := group[len(group)-1]
		length := int64(last.Offset) + int64(last.Length) - first
		// done counts the blobs of group passed to fn, so that neither a
		// retried Load nor the blob-by-blob fallback passes one twice.
		done := 0
		err := r.be.Load(ctx, h, int(length), first, func(rd io.Reader) error {
			br := sb.br
			br.Reset(rd)
			defer br.Reset(nil)
			pos := first
			for i, loc := range group {
				if int64(loc.Offset) < pos {
					// Listed twice or overlapping: not a valid plan.
					return fmt.Errorf("%w: blob %v overlaps the previous one in pack %v", ErrInvalidData, loc.Handle, pid.Str())
				}
				if _, err := br.Discard(int(int64(loc.Offset) - pos)); err != nil {
					return err
				}
				if cap(buf) < int(loc.Length) {
					// Grow in whole MiB so that a worker reallocates only a
					// few times over a restore.
					buf = make([]byte, 0, (int(loc.Length)+1<<20-1)&^(1<<20-1))
				}
				buf = buf[:loc.Length]
				if _, err := io.ReadFull(br, buf); err != nil {
					return err
				}
				pos = int64(loc.Offset) + int64(loc.Length)
				if i < done {
					continue
				}
				var plain []byte
				var berr error
				plain, out, berr = r.decodeBlob(loc.PackID, loc.Blob, buf, out)
				done = i + 1
				if err := fn(loc, plain, berr); err != nil {
					return callerError{err}
				}
			}
			return nil
		})
		r.fetched.Add(length)
		var ce callerError
		switch {
		case err == nil:
		case errors.As(err, &ce):
			return ce.err
		case ctx.Err() != nil || errors.Is(err, backend.ErrNotExist) || len(group)-done < 2:
			return fmt.Errorf("read pack %v: %w", pid.Str(), err)
		default:
			for _, loc := range group[done:] {
				if buf, out, err = r.streamOne(ctx, h, loc, buf, out, fn); err != nil {
					return err
				}
			}
		}
		start = end
	}
	return nil
}

// callerError carries an error of StreamPack's fn through the backend's
// Load, so that it is told apart from a failed read.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// streamOne reads one blob of pack h on its own (into buf) and passes it
// to fn, with the error of its read or of its decoding (into out); only
// fn's error and ctx are returned. It returns the buffers, grown or not.
func (r *Repository) streamOne(ctx context.Context, h backend.Handle, loc blob.PackedBlob, buf, out []byte, fn func(loc blob.PackedBlob, plain []byte, err error) error) ([]byte, []byte, error) {
	if cap(buf) < int(loc.Length) {
		buf = make([]byte, 0, (int(loc.Length)+1<<20-1)&^(1<<20-1))
	}
	buf = buf[:loc.Length]
	err := r.be.Load(ctx, h, len(buf), int64(loc.Offset), func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	r.fetched.Add(int64(loc.Length))
	if ctx.Err() != nil {
		return buf, out, ctx.Err()
	}
	var plain []byte
	if err != nil {
		err = fmt.Errorf("read pack %v: %w", loc.PackID.Str(), err)
	} else {
		plain, out, err = r.decodeBlob(loc.PackID, loc.Blob, buf, out)
	}
	return buf, out, fn(loc, plain, err)
}

// decodeBlob decrypts (in place), decompresses (into out) and checks one
// stored blob b of pack pid.
func (r *Repository) decodeBlob(pid id.ID, b blob.Blob, raw, out []byte) (plain, outBuf []byte, err error) {
	plain, err = r.key.OpenInPlace(raw)
	if err != nil {
		return nil, out, fmt.Errorf("%w: blob %v in pack %v: %v", ErrInvalidData, b.Handle, pid.Str(), err)
	}
	if b.UncompressedLength != 0 {
		if cap(out) < int(b.UncompressedLength) {
			out = make([]byte, 0, (int(b.UncompressedLength)+1<<20-1)&^(1<<20-1))
		}
		out, err = r.codec.decompress(out[:0], plain)
		if err != nil {
			return nil, out, fmt.Errorf("blob %v in pack %v: %w", b.Handle, pid.Str(), err)
		}
		plain = out
	}
	if id.Hash(plain) != b.Handle.ID {
		return nil, out, fmt.Errorf("%w: blob %v in pack %v: content does not match its ID", ErrInvalidData, b.Handle, pid.Str())
	}
	return plain, out, nil
}

// streamBuf holds what one StreamPack call reuses from the last.
type streamBuf struct {
	raw, out []byte
	br       *bufio.Reader
}

var streamBufs = sync.Pool{New: func() any { return &streamBuf{br: bufio.NewReaderSize(nil, 64<<10)} }}

// BytesFetched returns how many bytes of pack files StreamPack has read.
func (r *Repository) BytesFetched() int64 { return r.fetched.Load() }
