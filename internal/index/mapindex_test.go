package index_test

import (
	"sync"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
)

// loc is the compact form of a [blob.PackedBlob] kept in memory: the pack is an index
// into mapIndex.packs, so a blob costs its key plus 16 bytes.
type loc struct {
	pack, offset, length, ulen uint32
}

// mapIndex is the map-based index cairn used before the sorted one, kept
// as the reference the randomized tests compare against and as the
// baseline of the benchmarks. It is safe for concurrent use.
type mapIndex struct {
	mu     sync.RWMutex
	blobs  map[blob.Handle]loc   // first known copy; guarded by mu
	extra  map[blob.Handle][]loc // further copies (rare); guarded by mu
	packs  []id.ID               // pack number → pack ID; guarded by mu
	packNo map[id.ID]uint32      // guarded by mu
}

// newMapIndex returns an empty map index.
func newMapIndex() *mapIndex {
	return &mapIndex{
		blobs:  make(map[blob.Handle]loc),
		extra:  make(map[blob.Handle][]loc),
		packNo: make(map[id.ID]uint32),
	}
}

// packNumber returns the number of pack p, adding it if new. mu must be held.
func (x *mapIndex) packNumber(p id.ID) uint32 {
	if n, ok := x.packNo[p]; ok {
		return n
	}
	n := uint32(len(x.packs))
	x.packs = append(x.packs, p)
	x.packNo[p] = n
	return n
}

// AddFile merges the entries of an index file.
func (x *mapIndex) AddFile(f *index.File) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range f.Packs {
		x.addPackLocked(p)
	}
}

// AddPack merges the blobs of one pack.
func (x *mapIndex) AddPack(p index.Pack) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.addPackLocked(p)
}

func (x *mapIndex) addPackLocked(p index.Pack) {
	n := x.packNumber(p.ID)
	for _, b := range p.Blobs {
		h := b.Handle
		l := loc{pack: n, offset: b.Offset, length: b.Length, ulen: b.UncompressedLength}
		first, ok := x.blobs[h]
		switch {
		case !ok:
			x.blobs[h] = l
		case first == l:
		default:
			if !containsLoc(x.extra[h], l) {
				x.extra[h] = append(x.extra[h], l)
			}
		}
	}
}

func containsLoc(ls []loc, l loc) bool {
	for _, v := range ls {
		if v == l {
			return true
		}
	}
	return false
}

// packed expands l, a location of blob h.
func (x *mapIndex) packed(h blob.Handle, l loc) blob.PackedBlob {
	return blob.PackedBlob{
		Blob:   blob.Blob{Handle: h, Offset: l.offset, Length: l.length, UncompressedLength: l.ulen},
		PackID: x.packs[l.pack],
	}
}

// Lookup returns every known copy of a blob.
func (x *mapIndex) Lookup(h blob.Handle) []blob.PackedBlob {
	x.mu.RLock()
	defer x.mu.RUnlock()
	first, ok := x.blobs[h]
	if !ok {
		return nil
	}
	extra := x.extra[h]
	out := make([]blob.PackedBlob, 1, 1+len(extra))
	out[0] = x.packed(h, first)
	for _, l := range extra {
		out = append(out, x.packed(h, l))
	}
	return out
}

// Has reports whether a blob is known.
func (x *mapIndex) Has(h blob.Handle) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.blobs[h]
	return ok
}

// Size returns the plaintext size of a blob and whether it is known.
func (x *mapIndex) Size(h blob.Handle) (uint32, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	l, ok := x.blobs[h]
	if !ok {
		return 0, false
	}
	return blob.Blob{Length: l.length, UncompressedLength: l.ulen}.PlainSize(), true
}

// Len returns the number of distinct blobs.
func (x *mapIndex) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.blobs)
}

// HasPack reports whether any blob of pack p is known.
func (x *mapIndex) HasPack(p id.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.packNo[p]
	return ok
}

// Each calls fn for every distinct blob, in no particular order. fn must
// not call back into the index.
func (x *mapIndex) Each(fn func(blob.Handle)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for h := range x.blobs {
		fn(h)
	}
}
