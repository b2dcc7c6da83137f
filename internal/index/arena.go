package index

import (
	"slices"
	"unsafe"
)

// recSize is the size of one record in bytes.
const recSize = int(unsafe.Sizeof(rec{}))

// arenaMin is the number of records below which a part keeps its records
// on the Go heap; past it they move to an arena (see arena_linux.go).
const arenaMin = 1 << 15

// reserveHeap grows recs on the Go heap to hold at least n records.
func reserveHeap(recs []rec, n int) []rec {
	return slices.Grow(recs, n-len(recs))
}

// fitHeap returns recs without most of its unused capacity.
func fitHeap(recs []rec) []rec {
	if cap(recs)-len(recs) > len(recs)/16 {
		return slices.Clone(recs)
	}
	return recs
}
