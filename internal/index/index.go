package index

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// rec is one copy of a blob: its ID and where it lies. It holds no
// pointers, so a slice of them costs the garbage collector nothing to scan,
// and it is 48 bytes.
type rec struct {
	id                         id.ID
	pack, offset, length, ulen uint32
}

// loc is a rec without its ID, the value of the overlay map.
type loc struct {
	pack, offset, length, ulen uint32
}

func (r *rec) loc() loc { return loc{r.pack, r.offset, r.length, r.ulen} }

// cmpRec orders records by ID, then pack number, offset, lengths: copies
// of one blob are adjacent, in the order their packs became known, and
// identical entries are neighbours.
func cmpRec(a, b rec) int {
	if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
		return c
	}
	return cmpLoc(a.loc(), b.loc())
}

func cmpLoc(a, b loc) int {
	switch {
	case a.pack != b.pack:
		return cmpU32(a.pack, b.pack)
	case a.offset != b.offset:
		return cmpU32(a.offset, b.offset)
	case a.length != b.length:
		return cmpU32(a.length, b.length)
	default:
		return cmpU32(a.ulen, b.ulen)
	}
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// chunkLen is the number of records in one block of pending records.
const chunkLen = 4096

// minOverlay is the overlay size below which it is never folded into the
// sorted part.
const minOverlay = 1 << 16

// part holds the blobs of one type.
type part struct {
	// recs is sorted by cmpRec and holds no two equal records.
	recs []rec
	// starts[b] is the first record whose ID's top bits are b;
	// starts[len(starts)-1] is len(recs).
	starts   []uint32
	bits     uint // number of ID bits the prefix table uses
	distinct int  // number of distinct IDs in recs

	// pending holds records added while recs was empty (loading), in
	// blocks of chunkLen, not yet sorted or deduplicated.
	pending  [][]rec
	npending int

	// over holds copies added after recs was built and not in recs.
	over    map[id.ID][]loc
	nover   int // number of locs in over
	overNew int // keys of over that recs does not hold
}

func (p *part) bucket(x *id.ID) uint64 {
	if p.bits == 0 {
		return 0
	}
	return binary.BigEndian.Uint64(x[:8]) >> (64 - p.bits)
}

// find returns the range of records of blob x in recs.
func (p *part) find(x *id.ID) (int, int) {
	if len(p.recs) == 0 {
		return 0, 0
	}
	b := p.bucket(x)
	lo, hi := int(p.starts[b]), int(p.starts[b+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(p.recs[m].id[:], x[:]) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	end := lo
	for end < len(p.recs) && p.recs[end].id == *x {
		end++
	}
	return lo, end
}

func (p *part) has(x *id.ID) bool {
	lo, hi := p.find(x)
	if lo < hi {
		return true
	}
	_, ok := p.over[*x]
	return ok
}

// addOver puts r in the overlay unless it is known already.
func (p *part) addOver(r rec) {
	lo, hi := p.find(&r.id)
	for i := lo; i < hi; i++ {
		if p.recs[i] == r {
			return
		}
	}
	l := r.loc()
	ls, ok := p.over[r.id]
	if slices.Contains(ls, l) {
		return
	}
	if !ok && lo == hi {
		p.overNew++
	}
	if p.over == nil {
		p.over = make(map[id.ID][]loc)
	}
	p.over[r.id] = append(ls, l)
	p.nover++
}

// add records r: in the pending blocks while nothing is sorted yet, in
// the overlay otherwise, which is folded in once it grows past an eighth
// of the sorted part.
func (p *part) add(r rec) {
	if len(p.recs) == 0 {
		if len(p.pending) == 0 || len(p.pending[len(p.pending)-1]) == chunkLen {
			p.pending = append(p.pending, make([]rec, 0, chunkLen))
		}
		last := &p.pending[len(p.pending)-1]
		*last = append(*last, r)
		p.npending++
		return
	}
	p.addOver(r)
	if p.nover > max(minOverlay, len(p.recs)/8) {
		p.rebuild()
	}
}

// prefixBits returns the size of the prefix table for n records: about
// eight records per bucket, at most 2^24 buckets.
func prefixBits(n int) uint {
	b := bits.Len(uint(n))
	return uint(min(max(b-3, 0), 24))
}

// rebuild folds the pending blocks and the overlay into the sorted part.
// It allocates the new record slice once at its exact size and sorts it
// by distributing the records into their prefix buckets, then sorting
// each (small) bucket.
func (p *part) rebuild() {
	if p.npending == 0 && p.nover == 0 {
		return
	}
	n := len(p.recs) + p.npending + p.nover
	nb := uint(prefixBits(n))
	q := part{bits: nb}
	starts := make([]uint32, (1<<nb)+1)
	for i := range p.recs {
		starts[q.bucket(&p.recs[i].id)+1]++
	}
	for _, c := range p.pending {
		for i := range c {
			starts[q.bucket(&c[i].id)+1]++
		}
	}
	for x, ls := range p.over {
		starts[q.bucket(&x)+1] += uint32(len(ls))
	}
	for b := 1; b < len(starts); b++ {
		starts[b] += starts[b-1]
	}
	pos := slices.Clone(starts[:len(starts)-1])
	recs := make([]rec, n)
	put := func(r *rec) {
		b := q.bucket(&r.id)
		recs[pos[b]] = *r
		pos[b]++
	}
	for i := range p.recs {
		put(&p.recs[i])
	}
	p.recs = nil
	// Drop each pending block once copied, so that a collection during
	// the copy can already free it.
	for i, c := range p.pending {
		for j := range c {
			put(&c[j])
		}
		p.pending[i] = nil
	}
	for x, ls := range p.over {
		for _, l := range ls {
			put(&rec{id: x, pack: l.pack, offset: l.offset, length: l.length, ulen: l.ulen})
		}
	}
	pos = nil
	p.recs, p.pending, p.npending, p.over, p.nover, p.overNew = nil, nil, 0, nil, 0, 0

	// Sort each bucket, drop identical records and count distinct IDs,
	// rewriting starts as records move down.
	w, rd, distinct := 0, 0, 0
	for b := 0; b+1 < len(starts); b++ {
		end := int(starts[b+1])
		bk := recs[rd:end]
		slices.SortFunc(bk, cmpRec)
		starts[b] = uint32(w)
		for i := range bk {
			if i > 0 && bk[i] == bk[i-1] {
				continue
			}
			if i == 0 || bk[i].id != bk[i-1].id {
				distinct++
			}
			recs[w] = bk[i]
			w++
		}
		rd = end
	}
	starts[len(starts)-1] = uint32(w)
	if w < n-n/16 {
		recs = slices.Clone(recs[:w])
	}
	p.recs, p.starts, p.bits, p.distinct = recs[:w:w], starts, nb, distinct
}

// Index is the in-memory lookup table of all known blobs. Per blob type it
// keeps one sorted slice of 48-byte records with a prefix table, plus a
// small overlay for blobs added after the slice was built. It is safe for
// concurrent use.
type Index struct {
	mu       sync.RWMutex
	parts    [3]part          // by blob type; guarded by mu
	npending int              // records in pending blocks of all parts; guarded by mu
	packs    []id.ID          // pack number → pack ID; guarded by mu
	packNo   map[id.ID]uint32 // guarded by mu
}

// New returns an empty index.
func New() *Index {
	return &Index{packNo: make(map[id.ID]uint32)}
}

func (x *Index) part(t blob.Type) *part {
	if int(t) >= len(x.parts) {
		t = blob.Invalid
	}
	return &x.parts[t]
}

// packNumber returns the number of pack p, adding it if new. mu must be held.
func (x *Index) packNumber(p id.ID) uint32 {
	if n, ok := x.packNo[p]; ok {
		return n
	}
	n := uint32(len(x.packs))
	x.packs = append(x.packs, p)
	x.packNo[p] = n
	return n
}

// AddFile merges the entries of an index file.
func (x *Index) AddFile(f *File) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range f.Packs {
		x.addPackLocked(p)
	}
}

// AddPack merges the blobs of one pack.
func (x *Index) AddPack(p Pack) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.addPackLocked(p)
}

func (x *Index) addPackLocked(p Pack) {
	n := x.packNumber(p.ID)
	for _, b := range p.Blobs {
		pt := x.part(b.Type)
		before := pt.npending
		pt.add(rec{id: b.ID, pack: n, offset: b.Offset, length: b.Length, ulen: b.UncompressedLength})
		x.npending += pt.npending - before
	}
}

// Freeze folds every blob added so far into the sorted parts, leaving
// the overlay empty. Reads do it on their own when blobs are pending;
// calling it after loading all index files makes the cost explicit.
func (x *Index) Freeze() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.freezeLocked()
}

func (x *Index) freezeLocked() {
	for i := range x.parts {
		x.parts[i].rebuild()
	}
	x.npending = 0
}

// rlock takes the read lock once no records are pending.
func (x *Index) rlock() {
	x.mu.RLock()
	for x.npending > 0 {
		x.mu.RUnlock()
		x.mu.Lock()
		if x.npending > 0 {
			for i := range x.parts {
				if x.parts[i].npending > 0 {
					x.parts[i].rebuild()
				}
			}
			x.npending = 0
		}
		x.mu.Unlock()
		x.mu.RLock()
	}
}

// Lookup returns every known copy of a blob, in the order their packs
// became known (by offset within one pack).
func (x *Index) Lookup(h blob.Handle) []blob.PackedBlob {
	x.rlock()
	defer x.mu.RUnlock()
	p := x.part(h.Type)
	lo, hi := p.find(&h.ID)
	over := p.over[h.ID]
	if lo == hi && len(over) == 0 {
		return nil
	}
	out := make([]blob.PackedBlob, 0, hi-lo+len(over))
	add := func(l loc) {
		out = append(out, blob.PackedBlob{
			Blob:   blob.Blob{Handle: h, Offset: l.offset, Length: l.length, UncompressedLength: l.ulen},
			PackID: x.packs[l.pack],
		})
	}
	for i := lo; i < hi; i++ {
		add(p.recs[i].loc())
	}
	if len(over) == 0 {
		return out
	}
	ls := slices.Clone(over)
	slices.SortFunc(ls, cmpLoc)
	out = out[:0]
	// Merge the sorted copies with the overlay's, both in cmpLoc order.
	i := lo
	for _, l := range ls {
		for ; i < hi && cmpLoc(p.recs[i].loc(), l) < 0; i++ {
			add(p.recs[i].loc())
		}
		add(l)
	}
	for ; i < hi; i++ {
		add(p.recs[i].loc())
	}
	return out
}

// Has reports whether a blob is known.
func (x *Index) Has(h blob.Handle) bool {
	x.rlock()
	defer x.mu.RUnlock()
	return x.part(h.Type).has(&h.ID)
}

// Size returns the plaintext size of a blob and whether it is known.
func (x *Index) Size(h blob.Handle) (uint32, bool) {
	x.rlock()
	defer x.mu.RUnlock()
	p := x.part(h.Type)
	// The first copy Lookup would return.
	lo, hi := p.find(&h.ID)
	over := p.over[h.ID]
	var l loc
	switch {
	case lo < hi && len(over) > 0:
		l = slices.MinFunc(append([]loc{p.recs[lo].loc()}, over...), cmpLoc)
	case lo < hi:
		l = p.recs[lo].loc()
	case len(over) > 0:
		l = slices.MinFunc(over, cmpLoc)
	default:
		return 0, false
	}
	return blob.Blob{Length: l.length, UncompressedLength: l.ulen}.PlainSize(), true
}

// Len returns the number of distinct blobs.
func (x *Index) Len() int {
	x.rlock()
	defer x.mu.RUnlock()
	n := 0
	for i := range x.parts {
		n += x.parts[i].distinct + x.parts[i].overNew
	}
	return n
}

// HasPack reports whether any blob of pack p is known.
func (x *Index) HasPack(p id.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.packNo[p]
	return ok
}

// Each calls fn for every distinct blob, in no particular order. fn must
// not call back into the index.
func (x *Index) Each(fn func(blob.Handle)) {
	x.rlock()
	defer x.mu.RUnlock()
	for t := range x.parts {
		p := &x.parts[t]
		for i := range p.recs {
			if i == 0 || p.recs[i].id != p.recs[i-1].id {
				fn(blob.Handle{ID: p.recs[i].id, Type: blob.Type(t)})
			}
		}
		for bid := range p.over {
			if lo, hi := p.find(&bid); lo == hi {
				fn(blob.Handle{ID: bid, Type: blob.Type(t)})
			}
		}
	}
}
