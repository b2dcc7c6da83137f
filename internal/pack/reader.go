package pack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
)

// eagerSize is how much ReadHeader reads from the end of a pack in its
// first request: the length field plus an encrypted header of up to 15
// compressed entries. Packs with few blobs (tree packs, packs of large
// chunks) are then listed with one read.
const eagerSize = 15*compressedEntrySize + headerOverhead

// ReadHeader reads, decrypts and parses the header of the pack of size
// bytes in rd, and returns its blobs in file order.
//
// The trailing length is checked before anything else is read: it must be
// at least the crypto overhead, fit into the file before the length field,
// and not exceed [MaxHeaderSize]. The first read fetches the last
// min(size, eagerSize) bytes; a second read fetches the rest of a larger
// header. After parsing, the last blob must end exactly where the header
// begins, and there must be at least one blob.
//
// Every problem with the bytes yields an error wrapping [ErrInvalid]; if the
// header fails authentication the error also wraps
// [crypto.ErrUnauthenticated]. A read that returns fewer bytes than size
// promises yields an error wrapping [io.ErrUnexpectedEOF]; other read errors
// are returned wrapped. ctx is checked before each read.
func ReadHeader(ctx context.Context, rd io.ReaderAt, size int64, key *crypto.Key) ([]blob.Blob, error) {
	if size < minFileSize {
		return nil, fmt.Errorf("%w: file of %d bytes is shorter than the minimum of %d", ErrInvalid, size, minFileSize)
	}
	n := min(size, eagerSize)
	tail := make([]byte, n)
	if err := readFull(ctx, rd, tail, size-n); err != nil {
		return nil, fmt.Errorf("read pack header: %w", err)
	}
	hlen := int64(binary.LittleEndian.Uint32(tail[n-lengthSize:]))
	switch {
	case hlen < crypto.Overhead:
		return nil, fmt.Errorf("%w: header length %d is below the crypto overhead", ErrInvalid, hlen)
	case hlen > size-lengthSize:
		return nil, fmt.Errorf("%w: header length %d exceeds the file size %d", ErrInvalid, hlen, size)
	case hlen > MaxHeaderSize-lengthSize:
		return nil, fmt.Errorf("%w: header length %d exceeds the maximum of %d", ErrInvalid, hlen, MaxHeaderSize-lengthSize)
	}

	have := n - lengthSize // header bytes already in tail
	var enc []byte
	if hlen <= have {
		enc = tail[have-hlen : have]
	} else {
		enc = make([]byte, hlen)
		copy(enc[hlen-have:], tail[:have])
		if err := readFull(ctx, rd, enc[:hlen-have], size-lengthSize-hlen); err != nil {
			return nil, fmt.Errorf("read pack header: %w", err)
		}
	}

	plain, err := key.OpenInPlace(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: decrypt header: %w", ErrInvalid, err)
	}
	blobs, err := ParseHeader(plain)
	if err != nil {
		return nil, err
	}
	if len(blobs) == 0 {
		return nil, fmt.Errorf("%w: header lists no blobs", ErrInvalid)
	}
	last := blobs[len(blobs)-1]
	if end, hstart := int64(last.Offset)+int64(last.Length), size-lengthSize-hlen; end != hstart {
		return nil, fmt.Errorf("%w: blobs end at byte %d but the header starts at byte %d", ErrInvalid, end, hstart)
	}
	return blobs, nil
}

// readFull fills p from rd at off.
func readFull(ctx context.Context, rd io.ReaderAt, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := rd.ReadAt(p, off)
	if n == len(p) {
		// An io.ReaderAt may report io.EOF along with a read that ends at
		// the end of the input.
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%d bytes at offset %d: %w", len(p), off, err)
}
