package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
)

// ErrInvalid is wrapped by every error about malformed pack bytes: a header
// that does not parse, fails authentication, or disagrees with the file size.
var ErrInvalid = errors.New("invalid pack")

const (
	// entrySize and compressedEntrySize are the sizes of the two kinds of
	// plaintext header entry.
	entrySize           = 1 + 4 + id.Size
	compressedEntrySize = 1 + 4 + 4 + id.Size

	// lengthSize is the size of the trailing header length field.
	lengthSize = 4

	// headerOverhead is what a pack spends on its header besides the entries.
	headerOverhead = crypto.Overhead + lengthSize

	// MaxHeaderSize bounds the encrypted header plus its length field. Like
	// restic, readers reject larger headers and writers never produce them.
	MaxHeaderSize = 16*1024*1024 + lengthSize

	// MaxHeaderEntries is the number of compressed entries that fit into a
	// header of MaxHeaderSize.
	MaxHeaderEntries = (MaxHeaderSize - headerOverhead) / compressedEntrySize

	// minFileSize is the smallest file worth reading: the length field and
	// an encrypted header of one entry. Real packs are larger, since the
	// blob needs crypto.Overhead bytes too; the check that blobs end where
	// the header starts catches the rest.
	minFileSize = entrySize + crypto.Overhead + lengthSize
)

// Header type bytes.
const (
	typeData           = 0
	typeTree           = 1
	typeDataCompressed = 2
	typeTreeCompressed = 3
)

// entryLen returns the header entry size of b.
func entryLen(b blob.Blob) int {
	if b.IsCompressed() {
		return compressedEntrySize
	}
	return entrySize
}

// HeaderSize returns the number of bytes the header of a pack holding blobs
// occupies at its end: the encrypted header plus the 4-byte length field.
func HeaderSize(blobs []blob.Blob) int {
	n := headerOverhead
	for _, b := range blobs {
		n += entryLen(b)
	}
	return n
}

// appendHeader appends the plaintext header entries for blobs to dst. The
// blobs must have valid types; offsets are not encoded.
func appendHeader(dst []byte, blobs []blob.Blob) []byte {
	for _, b := range blobs {
		t := byte(typeData)
		if b.Type == blob.Tree {
			t = typeTree
		}
		if b.IsCompressed() {
			t += typeDataCompressed
		}
		dst = append(dst, t)
		dst = binary.LittleEndian.AppendUint32(dst, b.Length)
		if b.IsCompressed() {
			dst = binary.LittleEndian.AppendUint32(dst, b.UncompressedLength)
		}
		dst = append(dst, b.ID[:]...)
	}
	return dst
}

// ParseHeader decodes a plaintext pack header and assigns each blob its
// offset. An empty header yields no blobs and no error. Unknown type bytes,
// a trailing partial entry, a stored length below the crypto overhead, a
// compressed entry with a plaintext length of 0 (restic never writes one,
// and it could not be told apart from an uncompressed blob) and blobs that
// would end beyond 4 GiB are rejected with errors wrapping [ErrInvalid].
func ParseHeader(plain []byte) ([]blob.Blob, error) {
	return parseAppend(nil, plain)
}

// parseAppend is ParseHeader appending to dst, so that callers can reuse a
// slice.
func parseAppend(dst []blob.Blob, plain []byte) ([]blob.Blob, error) {
	var offset uint64
	for pos := 0; pos < len(plain); {
		var b blob.Blob
		size := entrySize
		switch plain[pos] {
		case typeData, typeDataCompressed:
			b.Type = blob.Data
		case typeTree, typeTreeCompressed:
			b.Type = blob.Tree
		default:
			return dst, fmt.Errorf("%w: header entry %d at byte %d: unknown type %d", ErrInvalid, len(dst), pos, plain[pos])
		}
		compressed := plain[pos] >= typeDataCompressed
		if compressed {
			size = compressedEntrySize
		}
		if len(plain)-pos < size {
			return dst, fmt.Errorf("%w: header entry %d at byte %d: %d bytes left, need %d", ErrInvalid, len(dst), pos, len(plain)-pos, size)
		}
		e := plain[pos+1 : pos+size]
		b.Length = binary.LittleEndian.Uint32(e)
		e = e[4:]
		if compressed {
			b.UncompressedLength = binary.LittleEndian.Uint32(e)
			e = e[4:]
			if b.UncompressedLength == 0 {
				return dst, fmt.Errorf("%w: header entry %d: compressed blob with plaintext length 0", ErrInvalid, len(dst))
			}
		}
		copy(b.ID[:], e)
		if b.Length < crypto.Overhead {
			return dst, fmt.Errorf("%w: header entry %d (%v): length %d is below the %d-byte crypto overhead", ErrInvalid, len(dst), b.Handle, b.Length, crypto.Overhead)
		}
		if offset+uint64(b.Length) > math.MaxUint32 {
			return dst, fmt.Errorf("%w: header entry %d (%v): blob ends beyond 4 GiB", ErrInvalid, len(dst), b.Handle)
		}
		b.Offset = uint32(offset)
		offset += uint64(b.Length)
		dst = append(dst, b)
		pos += size
	}
	return dst, nil
}
