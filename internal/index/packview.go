package index

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// PackView lists the blobs of every pack the index knows, pack by pack,
// for the commands that walk packs (check, prune). It does not copy the
// blob records: it keeps 4 bytes per blob that point into the index's
// sorted records, and builds a pack's blob list when asked. The records
// must not move while a view is open, so the index holds back folding its
// overlay until Close; blobs added meanwhile are not in the view.
type PackView struct {
	x     *Index
	ids   []id.ID  // pack IDs in ID order
	start []uint32 // by pack number: first entry of refs; one more at the end
	refs  []uint32 // blob type in the top 2 bits, position in its part's records below
}

const (
	refTypeShift = 30
	refPosMask   = 1<<refTypeShift - 1
)

// PackView returns a view of the packs the index knows now. Close it when done.
func (x *Index) PackView() *PackView {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.freezeLocked()
	x.views++
	np := len(x.packs)
	start := make([]uint32, np+1)
	for t := range x.parts {
		for i := range x.parts[t].recs {
			start[x.parts[t].recs[i].pack+1]++
		}
	}
	for p := 1; p <= np; p++ {
		start[p] += start[p-1]
	}
	refs := make([]uint32, start[np])
	next := slices.Clone(start[:np])
	for t := range x.parts {
		for i := range x.parts[t].recs {
			p := x.parts[t].recs[i].pack
			refs[next[p]] = uint32(t)<<refTypeShift | uint32(i)
			next[p]++
		}
	}
	v := &PackView{x: x, start: start, refs: refs}
	for p := range np {
		rs := refs[start[p]:start[p+1]]
		slices.SortFunc(rs, func(a, b uint32) int {
			ra, rb := v.rec(a), v.rec(b)
			return cmp.Or(cmp.Compare(ra.offset, rb.offset), bytes.Compare(ra.id[:], rb.id[:]), cmp.Compare(a>>refTypeShift, b>>refTypeShift),
				cmp.Compare(ra.length, rb.length), cmp.Compare(ra.ulen, rb.ulen))
		})
		if len(rs) > 0 {
			v.ids = append(v.ids, x.packs[p])
		}
	}
	slices.SortFunc(v.ids, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	return v
}

func (v *PackView) rec(r uint32) *rec {
	return &v.x.parts[r>>refTypeShift].recs[r&refPosMask]
}

// Close lets the index fold its overlay again.
func (v *PackView) Close() {
	v.x.mu.Lock()
	defer v.x.mu.Unlock()
	if v.refs != nil {
		v.x.views--
		v.refs = nil
	}
}

// IDs returns the packs that hold blobs, in ID order. The caller must not
// change the slice.
func (v *PackView) IDs() []id.ID { return v.ids }

// Blobs appends the blobs of pack pid to buf, in offset order, and
// returns it (by offset, then ID, type and lengths); buf if the view has
// no blob of pid.
func (v *PackView) Blobs(pid id.ID, buf []blob.Blob) []blob.Blob {
	v.x.mu.RLock()
	defer v.x.mu.RUnlock()
	n, ok := v.x.packNo[pid]
	if !ok || int(n)+1 >= len(v.start) {
		return buf
	}
	for _, r := range v.refs[v.start[n]:v.start[n+1]] {
		rc := v.rec(r)
		buf = append(buf, blob.Blob{
			Handle: blob.Handle{ID: rc.id, Type: blob.Type(r >> refTypeShift)},
			Offset: rc.offset, Length: rc.length, UncompressedLength: rc.ulen,
		})
	}
	return buf
}

// Len returns the number of blobs of pack pid in the view.
func (v *PackView) Len(pid id.ID) int {
	v.x.mu.RLock()
	defer v.x.mu.RUnlock()
	n, ok := v.x.packNo[pid]
	if !ok || int(n)+1 >= len(v.start) {
		return 0
	}
	return int(v.start[n+1] - v.start[n])
}
