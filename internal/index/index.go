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

// minOverlay and maxOverlay bound the overlay size past which it is
// folded into the sorted part: an eighth of the sorted part, within them.
const (
	minOverlay = 1 << 16
	maxOverlay = 1 << 18
)

// part holds the blobs of one type.
type part struct {
	// recs holds the records. Until the part is built they are in the
	// order they were added, with repeats; then they are sorted by cmpRec
	// with no two equal. Large parts keep them in mem (arena_linux.go).
	recs  []rec
	mem   *arena
	built bool
	// starts[b] is the first record whose ID's top bits are b;
	// starts[len(starts)-1] is len(recs). Set once built.
	starts   []uint32
	bits     uint // number of ID bits the prefix table uses
	distinct int  // number of distinct IDs in recs

	// over holds copies added after the part was built and not in recs.
	over    map[id.ID][]loc
	nover   int // number of locs in over
	overNew int // keys of over that recs does not hold
}

func (p *part) bucket(x *id.ID) uint64 {
	return bucketOf(x, p.bits)
}

func bucketOf(x *id.ID, nb uint) uint64 {
	if nb == 0 {
		return 0
	}
	return binary.BigEndian.Uint64(x[:8]) >> (64 - nb)
}

// find returns the range of records of blob x in recs. The part must be
// built.
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

// add records r: appended to recs until the part is built, in the overlay
// afterwards, which is folded in once it grows past its bound. It reports
// whether r was appended unsorted.
func (p *part) add(r rec, canFold bool) bool {
	if !p.built {
		p.reserve(len(p.recs) + 1)
		p.recs = append(p.recs, r)
		return true
	}
	p.addOver(r)
	if canFold && p.nover > max(minOverlay, min(maxOverlay, len(p.recs)/8)) {
		p.foldOverlay()
	}
	return false
}

// prefixBits returns the size of the prefix table for n records: about
// eight records per bucket, at most 2^24 buckets.
func prefixBits(n int) uint {
	b := bits.Len(uint(n))
	return uint(min(max(b-3, 0), 24))
}

// build sorts the records added so far in place. Nothing is copied: the
// records are partitioned by the top bits of their IDs in two in-place
// radix passes (first by 8 bits, then each part by the rest of the prefix
// bits, so that every pass writes to few places at a time and stays in
// the processor's caches), each small bucket is sorted, and identical
// records are dropped while the prefix table is written. Peak memory is
// the records themselves plus the table.
func (p *part) build() {
	if p.built {
		return
	}
	p.built = true
	recs := p.recs
	nb := prefixBits(len(recs))
	hi := min(nb, 8)
	ends := radixPass(recs, 0, hi)
	if nb > hi {
		lo := 0
		for _, end := range ends {
			radixPass(recs[lo:end], hi, nb-hi)
			lo = end
		}
	}
	nbk := 1 << nb
	starts := make([]uint32, nbk+1)
	w, rd, distinct := 0, 0, 0
	for b := range nbk {
		end := rd
		for end < len(recs) && int(bucketOf(&recs[end].id, nb)) == b {
			end++
		}
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
	starts[nbk] = uint32(w)
	p.recs, p.starts, p.bits, p.distinct = recs[:w], starts, nb, distinct
	p.fit()
}

// digit returns bits [skip, skip+w) of an ID, counted from its first bit.
func digit(x *id.ID, skip, w uint) int {
	return int(binary.BigEndian.Uint64(x[:8]) << skip >> (64 - w))
}

// radixPass partitions recs in place by digit(skip, w) (American flag
// sort: each record is cycled to the next free slot of its digit's
// range) and returns the end of each digit's range. w of 0 leaves recs as
// they are.
func radixPass(recs []rec, skip, w uint) []int {
	if w == 0 {
		return []int{len(recs)}
	}
	nd := 1 << w
	ends := make([]int, nd)
	for i := range recs {
		ends[digit(&recs[i].id, skip, w)]++
	}
	next := make([]int, nd)
	sum := 0
	for d := range nd {
		next[d] = sum
		sum += ends[d]
		ends[d] = sum
	}
	for d := range nd {
		for next[d] < ends[d] {
			r := recs[next[d]]
			td := digit(&r.id, skip, w)
			for td != d {
				j := next[td]
				next[td]++
				recs[j], r = r, recs[j]
				td = digit(&r.id, skip, w)
			}
			recs[next[d]] = r
			next[d]++
		}
	}
	return ends
}

// foldOverlay merges the overlay into the sorted records: it grows them
// in place and merges from the end down, so that no second copy of the
// records is ever needed, then rebuilds the prefix table.
func (p *part) foldOverlay() {
	if p.nover == 0 {
		return
	}
	add := make([]rec, 0, p.nover)
	for x, ls := range p.over {
		for _, l := range ls {
			add = append(add, rec{id: x, pack: l.pack, offset: l.offset, length: l.length, ulen: l.ulen})
		}
	}
	slices.SortFunc(add, cmpRec)
	n := len(p.recs)
	p.reserve(n + len(add))
	recs := p.recs[:n+len(add)]
	i, j := n-1, len(add)-1
	for k := len(recs) - 1; j >= 0; k-- {
		if i >= 0 && cmpRec(recs[i], add[j]) > 0 {
			recs[k] = recs[i]
			i--
		} else {
			recs[k] = add[j]
			j--
		}
	}
	nb := prefixBits(len(recs))
	starts := make([]uint32, (1<<nb)+1)
	for i := range recs {
		starts[bucketOf(&recs[i].id, nb)+1]++
	}
	for b := 1; b < len(starts); b++ {
		starts[b] += starts[b-1]
	}
	p.recs, p.starts, p.bits = recs, starts, nb
	p.distinct += p.overNew
	p.over, p.nover, p.overNew = nil, 0, 0
}

// Index is the in-memory lookup table of all known blobs. Per blob type it
// keeps one sorted slice of 48-byte records with a prefix table, plus a
// small overlay for blobs added after the slice was built. It is safe for
// concurrent use.
type Index struct {
	mu       sync.RWMutex
	parts    [3]part          // by blob type; guarded by mu
	npending int              // records added to parts not yet built; guarded by mu
	packs    []id.ID          // pack number → pack ID; guarded by mu
	packNo   map[id.ID]uint32 // guarded by mu
	views    int              // open PackViews, which pin the records; guarded by mu
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
		if x.part(b.Type).add(rec{id: b.ID, pack: n, offset: b.Offset, length: b.Length, ulen: b.UncompressedLength}, x.views == 0) {
			x.npending++
		}
	}
}

// Freeze folds every blob added so far into the sorted parts, leaving
// the overlay empty (unless a PackView is open). Reads do it on their own when blobs are pending;
// calling it after loading all index files makes the cost explicit.
func (x *Index) Freeze() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.freezeLocked()
}

func (x *Index) freezeLocked() {
	for i := range x.parts {
		x.parts[i].build()
		if x.views == 0 {
			x.parts[i].foldOverlay()
		}
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
				x.parts[i].build()
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

// Duplicates returns the number of blobs (ID and type) with more than one
// copy.
func (x *Index) Duplicates() int {
	x.rlock()
	defer x.mu.RUnlock()
	n := 0
	for t := range x.parts {
		p := &x.parts[t]
		for i := 1; i < len(p.recs); i++ {
			if p.recs[i].id == p.recs[i-1].id && (i == 1 || p.recs[i-2].id != p.recs[i].id) {
				n++
			}
		}
		for bid, ls := range p.over {
			if lo, hi := p.find(&bid); hi-lo == 1 || (lo == hi && len(ls) > 1) {
				n++
			}
		}
	}
	return n
}
