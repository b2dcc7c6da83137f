package index

import (
	"sync"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// Entry locates one copy of a blob.
type Entry struct {
	PackID             id.ID
	Offset             uint32
	Length             uint32
	UncompressedLength uint32
}

// Index is the in-memory lookup table of all known blobs. It is safe for
// concurrent use.
type Index struct {
	mu    sync.RWMutex
	blobs map[blob.Handle][]Entry // guarded by mu
	packs id.Set                  // guarded by mu
}

// New returns an empty index.
func New() *Index {
	return &Index{blobs: make(map[blob.Handle][]Entry), packs: id.NewSet()}
}

// AddFile merges the entries of an index file.
func (x *Index) AddFile(f *File) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range f.Packs {
		x.packs.Insert(p.ID)
		for _, b := range p.Blobs {
			h := blob.Handle{ID: b.ID, Type: b.Type}
			e := Entry{PackID: p.ID, Offset: b.Offset, Length: b.Length, UncompressedLength: b.UncompressedLength}
			if !contains(x.blobs[h], e) {
				x.blobs[h] = append(x.blobs[h], e)
			}
		}
	}
}

func contains(es []Entry, e Entry) bool {
	for _, v := range es {
		if v == e {
			return true
		}
	}
	return false
}

// Lookup returns every known copy of a blob.
func (x *Index) Lookup(h blob.Handle) []Entry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.blobs[h]
}

// Has reports whether a blob is known.
func (x *Index) Has(h blob.Handle) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.blobs[h]) > 0
}

// Len returns the number of distinct blobs.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.blobs)
}

// Each calls fn for every distinct blob, in no particular order. fn must
// not call back into the index.
func (x *Index) Each(fn func(blob.Handle)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for h := range x.blobs {
		fn(h)
	}
}
