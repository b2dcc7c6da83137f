package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
)

// ErrFull is returned by [Writer.Add] when a blob does not fit into the
// pack being written: its offsets would pass 4 GiB, or its header would
// exceed [MaxHeaderSize]. The writer is unchanged; finish the pack and add
// the blob to the next one.
var ErrFull = errors.New("pack full")

// ErrEmpty is returned by [Writer.Finish] for a pack without blobs. restic
// never writes one and rejects such files when it reads them, so neither do
// we.
var ErrEmpty = errors.New("empty pack")

// Writer assembles one pack in memory: blobs are copied into one growing
// buffer, and [Writer.Finish] appends the header. After Finish (or a failed
// Finish), call [Writer.Reset] to start the next pack in the same buffer.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	key      *crypto.Key
	buf      []byte // blobs, then the header after Finish
	blobs    []Blob
	hdrLen   int    // plaintext header size of blobs
	scratch  []byte // plaintext header, reused across packs
	check    []Blob // parsed header during verification, reused
	finished bool
}

// NewWriter returns a writer that encrypts the header with key. buf is
// backing storage to reuse (for example the result of a previous pack that
// is no longer needed); it may be nil, and its contents are discarded.
func NewWriter(key *crypto.Key, buf []byte) *Writer {
	return &Writer{key: key, buf: buf[:0]}
}

// Add appends a blob that the caller has already sealed with
// [crypto.Key.Seal], copying sealed into the pack. uncompressedLen is the
// plaintext length for a zstd-compressed blob and 0 for an uncompressed
// one. Add returns [ErrFull] if the blob does not fit into this pack but
// would fit into an empty one. Other errors (never retryable) are for a
// blob of 4 GiB or more, an invalid handle type, a sealed blob shorter than
// the crypto overhead, or a call after [Writer.Finish]. On error nothing is
// added.
func (w *Writer) Add(h blob.Handle, sealed []byte, uncompressedLen uint32) error {
	b, err := w.prepare(h, len(sealed), uncompressedLen)
	if err != nil {
		return err
	}
	w.buf = append(w.buf, sealed...)
	w.commit(b)
	return nil
}

// AddSealing encrypts plain with the writer's key directly into the pack
// buffer, without an intermediate copy, and records it like [Writer.Add].
// plain must not overlap the writer's buffer. Errors are those of Add.
func (w *Writer) AddSealing(h blob.Handle, plain []byte, uncompressedLen uint32) error {
	b, err := w.prepare(h, len(plain)+crypto.Overhead, uncompressedLen)
	if err != nil {
		return err
	}
	w.buf = w.key.Seal(w.buf, plain)
	w.commit(b)
	return nil
}

// prepare checks that a blob of stored length n can be added and returns
// its entry.
func (w *Writer) prepare(h blob.Handle, n int, uncompressedLen uint32) (Blob, error) {
	if w.finished {
		return Blob{}, fmt.Errorf("add blob %v: pack already finished", h)
	}
	if h.Type != blob.Data && h.Type != blob.Tree {
		return Blob{}, fmt.Errorf("add blob %v: invalid blob type", h)
	}
	if n < crypto.Overhead {
		return Blob{}, fmt.Errorf("add blob %v: %d bytes is shorter than the crypto overhead", h, n)
	}
	b := Blob{Handle: h, Offset: uint32(len(w.buf)), UncompressedLength: uncompressedLen}
	if uint64(len(w.buf))+uint64(n) > math.MaxUint32 {
		if len(w.blobs) == 0 {
			return Blob{}, fmt.Errorf("add blob %v: %d bytes do not fit into any pack", h, n)
		}
		return Blob{}, fmt.Errorf("add blob %v of %d bytes at offset %d: %w", h, n, len(w.buf), ErrFull)
	}
	b.Length = uint32(n)
	if w.hdrLen+b.entryLen()+headerOverhead > MaxHeaderSize {
		return Blob{}, fmt.Errorf("add blob %v: header of %d entries: %w", h, len(w.blobs)+1, ErrFull)
	}
	return b, nil
}

func (w *Writer) commit(b Blob) {
	w.blobs = append(w.blobs, b)
	w.hdrLen += b.entryLen()
}

// Size returns the size the pack would have if finished now: the blobs
// added so far plus the encrypted header and its length field.
func (w *Writer) Size() int {
	if w.finished {
		return len(w.buf)
	}
	return len(w.buf) + w.hdrLen + headerOverhead
}

// Count returns the number of blobs added.
func (w *Writer) Count() int { return len(w.blobs) }

// Blobs returns a copy of the entries of the blobs added so far, with
// their offsets in the pack.
func (w *Writer) Blobs() []Blob { return slices.Clone(w.blobs) }

// Finish appends the encrypted header and its length and returns the
// complete pack. Before returning, it decrypts the header it wrote and
// checks that it parses back to exactly [Writer.Blobs], so that a bad key or
// a memory fault does not produce an unreadable pack. A pack without blobs
// yields [ErrEmpty].
//
// The returned slice aliases the writer's buffer: it is valid until the
// next [Writer.Reset]. After Finish, Add fails until Reset.
func (w *Writer) Finish() ([]byte, error) {
	if w.finished {
		return nil, errors.New("finish pack: already finished")
	}
	if len(w.blobs) == 0 {
		return nil, fmt.Errorf("finish pack: %w", ErrEmpty)
	}
	w.finished = true

	w.scratch = appendHeader(w.scratch[:0], w.blobs)
	start := len(w.buf)
	w.buf = w.key.Seal(w.buf, w.scratch)
	hlen := len(w.buf) - start
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(hlen))

	// Verify: decrypt into the scratch buffer (it no longer holds anything
	// we need) and compare the parsed entries with what we recorded.
	plain, err := w.key.Open(w.scratch[:0], w.buf[start:start+hlen])
	if err != nil {
		return nil, fmt.Errorf("finish pack: verify header: %w", err)
	}
	w.scratch = plain
	w.check, err = parseAppend(w.check[:0], plain)
	if err != nil {
		return nil, fmt.Errorf("finish pack: verify header: %w", err)
	}
	if !slices.Equal(w.check, w.blobs) {
		return nil, errors.New("finish pack: verify header: decrypted header does not match the blobs written")
	}
	return w.buf, nil
}

// Reset empties the writer for the next pack, keeping its key and the
// capacity of its buffers. Slices returned by an earlier Finish are
// overwritten by later writes.
func (w *Writer) Reset() {
	w.buf = w.buf[:0]
	w.blobs = w.blobs[:0]
	w.hdrLen = 0
	w.finished = false
}
