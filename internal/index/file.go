package index

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// File is the JSON document of one index file.
type File struct {
	// Supersedes is read for compatibility and never written.
	Supersedes []id.ID `json:"supersedes,omitempty"`
	Packs      []Pack  `json:"packs"`
	// Pending is the record of a two-phase prune between its phases
	// (see package prune), carried by an index file without packs so
	// that every backend stores it and restic reads it as an empty index.
	Pending json.RawMessage `json:"cairn_pending,omitempty"`
}

// Pack lists the blobs of one pack file.
type Pack struct {
	ID    id.ID       `json:"id"`
	Blobs []blob.Blob `json:"blobs"`
}

// Decode parses an index file's JSON and rejects entries that cannot be
// right (zero length, compressed blobs in a v1 repository).
func Decode(doc []byte, repoVersion uint) (*File, error) {
	f, err := decodeFast(doc)
	if err != nil {
		f = new(File)
		if err := json.Unmarshal(doc, f); err != nil {
			return nil, fmt.Errorf("decode index: %w", err)
		}
	}
	for _, p := range f.Packs {
		for _, b := range p.Blobs {
			if b.Type != blob.Data && b.Type != blob.Tree {
				return nil, fmt.Errorf("decode index: pack %v: blob %v has no type", p.ID.Str(), b.ID.Str())
			}
			if b.Length < 32 {
				return nil, fmt.Errorf("decode index: pack %v: blob %v has length %d", p.ID.Str(), b.ID.Str(), b.Length)
			}
			if b.UncompressedLength != 0 && repoVersion < 2 {
				return nil, fmt.Errorf("decode index: pack %v: compressed blob %v in a version %d repository", p.ID.Str(), b.ID.Str(), repoVersion)
			}
		}
	}
	return f, nil
}

// Encode returns the JSON document of f as restic writes it (a JSON
// encoder's output, ending in a newline), without supersedes.
func Encode(f *File) ([]byte, error) {
	out := File{Packs: f.Packs, Pending: f.Pending}
	if out.Packs == nil {
		out.Packs = []Pack{}
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(out); err != nil {
		return nil, fmt.Errorf("encode index: %w", err)
	}
	return buf.Bytes(), nil
}
