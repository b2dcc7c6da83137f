// Package blob holds the small value types that name and locate blobs:
// their type, the (ID, type) handle and where a blob is stored in a pack.
// It is a leaf package shared by pack, index, repository and their users.
package blob

import (
	"encoding/json"
	"fmt"

	"github.com/cairn-backup/cairn/internal/id"
)

// Type is the kind of a blob.
type Type uint8

// Blob types. Data blobs hold file contents; tree blobs hold directories.
const (
	Invalid Type = iota
	Data
	Tree
)

func (t Type) String() string {
	switch t {
	case Data:
		return "data"
	case Tree:
		return "tree"
	}
	return fmt.Sprintf("invalid(%d)", uint8(t))
}

// MarshalJSON encodes t as "data" or "tree".
func (t Type) MarshalJSON() ([]byte, error) {
	switch t {
	case Data, Tree:
		return []byte(`"` + t.String() + `"`), nil
	}
	return nil, fmt.Errorf("invalid blob type %d", uint8(t))
}

// UnmarshalJSON decodes "data" or "tree".
func (t *Type) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("blob type: %w", err)
	}
	switch s {
	case "data":
		*t = Data
	case "tree":
		*t = Tree
	default:
		return fmt.Errorf("invalid blob type %q", s)
	}
	return nil
}

// Handle names a blob by ID and type.
type Handle struct {
	ID   id.ID `json:"id"`
	Type Type  `json:"type"`
}

func (h Handle) String() string { return h.Type.String() + "/" + h.ID.Str() }

// Overhead is what encryption adds to every stored blob.
const Overhead = 32

// Blob is one blob within a pack file. It is also an index file's JSON
// entry for the blob, with the keys id, type, offset, length and
// uncompressed_length (omitted when 0), in that order. Length is the
// stored length, including the crypto Overhead. UncompressedLength is the
// plaintext length of a compressed blob and 0 for an uncompressed one.
type Blob struct {
	Handle
	Offset             uint32 `json:"offset"`
	Length             uint32 `json:"length"`
	UncompressedLength uint32 `json:"uncompressed_length,omitempty"`
}

// IsCompressed reports whether the blob is stored compressed.
func (b Blob) IsCompressed() bool { return b.UncompressedLength != 0 }

// PlainSize returns the blob's plaintext size.
func (b Blob) PlainSize() uint32 {
	if b.IsCompressed() {
		return b.UncompressedLength
	}
	return b.Length - Overhead
}

// PackedBlob is one stored copy of a blob: the blob and the pack holding
// it.
type PackedBlob struct {
	Blob
	PackID id.ID
}
