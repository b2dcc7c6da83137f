package pack

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
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

// Writer writes one pack, streaming: blobs go to the sink as they are
// added (a temporary file, typically), their header entries stay in
// memory, and [Writer.Finish] appends the header and returns the pack's ID,
// the SHA-256 of every byte written, computed on the way. Memory use does
// not depend on the pack size.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	key      *crypto.Key
	sink     io.Writer    // where the pack goes; mem when writing to memory
	mem      bytes.Buffer // the pack, when NewWriter got a nil sink
	hash     hash.Hash
	tee      tee       // writes to sink and hash
	out      io.Writer // &tee
	n        int       // bytes written
	err      error     // first write error; the pack is lost after one
	blobs    []blob.Blob
	hdrLen   int         // plaintext header size of blobs
	scratch  []byte      // plaintext header, reused across packs
	check    []blob.Blob // parsed header during verification, reused
	sealBuf  []byte      // SealTo work buffer
	finished bool
}

// NewWriter returns a writer that encrypts with key and writes to sink, or
// to memory (see [Writer.Bytes]) if sink is nil.
func NewWriter(key *crypto.Key, sink io.Writer) *Writer {
	w := &Writer{key: key, hash: sha256.New()}
	w.out = &w.tee
	w.Reset(sink)
	return w
}

// Reset starts a new pack written to sink (nil: memory), keeping the
// key and the capacity of the writer's buffers.
func (w *Writer) Reset(sink io.Writer) {
	w.mem.Reset()
	if sink == nil {
		sink = &w.mem
	}
	w.sink = sink
	w.hash.Reset()
	w.tee = tee{sink: sink, hash: w.hash}
	w.n, w.err = 0, nil
	w.blobs = w.blobs[:0]
	w.hdrLen = 0
	w.finished = false
}

// Bytes returns the pack written so far when the writer writes to memory.
// It aliases the writer's buffer until the next Reset.
func (w *Writer) Bytes() []byte { return w.mem.Bytes() }

// Add appends a blob that the caller has already sealed with
// [crypto.Key.Seal]. uncompressedLen is the plaintext length for a
// zstd-compressed blob and 0 for an uncompressed one. Add returns
// [ErrFull] if the blob does not fit into this pack but would fit into an
// empty one. Other errors (never retryable) are for a blob of 4 GiB or
// more, an invalid handle type, a sealed blob shorter than the crypto
// overhead, a call after [Writer.Finish], or a failed write to the sink.
// Except for write errors, nothing is added on error.
func (w *Writer) Add(h blob.Handle, sealed []byte, uncompressedLen uint32) error {
	b, err := w.prepare(h, len(sealed), uncompressedLen)
	if err != nil {
		return err
	}
	return w.write(b, func() (int, error) { return w.out.Write(sealed) })
}

// AddSealing encrypts plain with the writer's key straight into the pack,
// through a small work buffer, and records it like [Writer.Add].
func (w *Writer) AddSealing(h blob.Handle, plain []byte, uncompressedLen uint32) error {
	b, err := w.prepare(h, len(plain)+crypto.Overhead, uncompressedLen)
	if err != nil {
		return err
	}
	if w.sealBuf == nil {
		w.sealBuf = make([]byte, 256<<10)
	}
	return w.write(b, func() (int, error) { return w.key.SealTo(w.out, plain, w.sealBuf) })
}

func (w *Writer) write(b blob.Blob, fn func() (int, error)) error {
	n, err := fn()
	w.n += n
	if err == nil && n != int(b.Length) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		return fmt.Errorf("write pack: %w", err)
	}
	w.blobs = append(w.blobs, b)
	w.hdrLen += entryLen(b)
	return nil
}

// prepare checks that a blob of stored length n can be added and returns
// its entry.
func (w *Writer) prepare(h blob.Handle, n int, uncompressedLen uint32) (blob.Blob, error) {
	switch {
	case w.err != nil:
		return blob.Blob{}, fmt.Errorf("add blob %v: earlier write failed: %w", h, w.err)
	case w.finished:
		return blob.Blob{}, fmt.Errorf("add blob %v: pack already finished", h)
	case h.Type != blob.Data && h.Type != blob.Tree:
		return blob.Blob{}, fmt.Errorf("add blob %v: invalid blob type", h)
	case n < crypto.Overhead:
		return blob.Blob{}, fmt.Errorf("add blob %v: %d bytes is shorter than the crypto overhead", h, n)
	}
	b := blob.Blob{Handle: h, Offset: uint32(w.n), UncompressedLength: uncompressedLen}
	if uint64(w.n)+uint64(n) > math.MaxUint32 {
		if len(w.blobs) == 0 {
			return blob.Blob{}, fmt.Errorf("add blob %v: %d bytes do not fit into any pack", h, n)
		}
		return blob.Blob{}, fmt.Errorf("add blob %v of %d bytes at offset %d: %w", h, n, w.n, ErrFull)
	}
	b.Length = uint32(n)
	if w.hdrLen+entryLen(b)+headerOverhead > MaxHeaderSize {
		return blob.Blob{}, fmt.Errorf("add blob %v: header of %d entries: %w", h, len(w.blobs)+1, ErrFull)
	}
	return b, nil
}

// Size returns the size the pack would have if finished now: the blobs
// added so far plus the encrypted header and its length field.
func (w *Writer) Size() int {
	if w.finished {
		return w.n
	}
	return w.n + w.hdrLen + headerOverhead
}

// Count returns the number of blobs added.
func (w *Writer) Count() int { return len(w.blobs) }

// Blobs returns a copy of the entries of the blobs added so far, with
// their offsets in the pack.
func (w *Writer) Blobs() []blob.Blob { return slices.Clone(w.blobs) }

// Finish writes the encrypted header and its length and returns the pack
// ID (the SHA-256 of the whole pack). Before writing, it decrypts the
// header it built and checks that it parses back to exactly
// [Writer.Blobs], so that a bad key or a memory fault does not produce an
// unreadable pack. A pack without blobs yields [ErrEmpty]. After Finish,
// Add fails until Reset.
func (w *Writer) Finish() (id.ID, error) {
	switch {
	case w.finished:
		return id.ID{}, errors.New("finish pack: already finished")
	case w.err != nil:
		return id.ID{}, fmt.Errorf("finish pack: earlier write failed: %w", w.err)
	case len(w.blobs) == 0:
		return id.ID{}, fmt.Errorf("finish pack: %w", ErrEmpty)
	}
	w.finished = true

	hdr := appendHeader(w.scratch[:0], w.blobs)
	sealed := w.key.Seal(nil, hdr)
	sealed = binary.LittleEndian.AppendUint32(sealed, uint32(len(sealed)))

	plain, err := w.key.Open(hdr[:0], sealed[:len(sealed)-lengthSize])
	if err != nil {
		return id.ID{}, fmt.Errorf("finish pack: verify header: %w", err)
	}
	w.scratch = plain
	w.check, err = parseAppend(w.check[:0], plain)
	if err != nil {
		return id.ID{}, fmt.Errorf("finish pack: verify header: %w", err)
	}
	if !slices.Equal(w.check, w.blobs) {
		return id.ID{}, errors.New("finish pack: verify header: decrypted header does not match the blobs written")
	}
	n, err := w.out.Write(sealed)
	w.n += n
	if err != nil {
		w.err = err
		return id.ID{}, fmt.Errorf("finish pack: write header: %w", err)
	}
	var pid id.ID
	w.hash.Sum(pid[:0])
	return pid, nil
}

// tee writes to a sink and a hash.
type tee struct {
	sink io.Writer
	hash hash.Hash
}

func (t *tee) Write(p []byte) (int, error) {
	n, err := t.sink.Write(p)
	t.hash.Write(p[:n])
	return n, err
}
