// Package blob holds the small value types that name blobs: their type and
// the (ID, type) handle. It is a leaf package shared by pack, index and
// repository.
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
	ID   id.ID
	Type Type
}

func (h Handle) String() string { return h.Type.String() + "/" + h.ID.Str() }
