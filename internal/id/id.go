// Package id defines the 32-byte content identifiers used everywhere in a
// repository: the SHA-256 of a file's stored bytes (storage IDs) or of a
// blob's plaintext (blob IDs).
package id

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Size is the length of an ID in bytes.
const Size = sha256.Size

// ID is a SHA-256 digest. The zero value is the null ID.
type ID [Size]byte

// ErrInvalid is wrapped by every error about a malformed ID string.
var ErrInvalid = errors.New("invalid id")

// Hash returns the SHA-256 of data.
func Hash(data []byte) ID { return sha256.Sum256(data) }

// Parse decodes a 64-character lowercase or uppercase hex string.
func Parse(s string) (ID, error) {
	var out ID
	if len(s) != 2*Size {
		return out, fmt.Errorf("%w %q: want %d hex digits", ErrInvalid, s, 2*Size)
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return out, fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
	}
	return out, nil
}

// String returns the full lowercase hex form.
func (i ID) String() string { return hex.EncodeToString(i[:]) }

// Str returns the short (8 hex digit) form used in messages.
func (i ID) Str() string { return hex.EncodeToString(i[:4]) }

// IsNull reports whether i is the zero ID.
func (i ID) IsNull() bool { return i == ID{} }

// MarshalJSON encodes i as a hex string.
func (i ID) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 2*Size+2)
	buf[0] = '"'
	hex.Encode(buf[1:], i[:])
	buf[len(buf)-1] = '"'
	return buf, nil
}

// UnmarshalJSON decodes a hex string.
func (i *ID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// Set is a set of IDs.
type Set map[ID]struct{}

// NewSet returns a set holding ids.
func NewSet(ids ...ID) Set {
	s := make(Set, len(ids))
	for _, v := range ids {
		s[v] = struct{}{}
	}
	return s
}

// Has reports whether v is in s.
func (s Set) Has(v ID) bool { _, ok := s[v]; return ok }

// Insert adds v to s.
func (s Set) Insert(v ID) { s[v] = struct{}{} }
