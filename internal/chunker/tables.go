package chunker

import (
	"sync"

	rc "github.com/restic/chunker"
)

// tables holds what the rolling hash needs for one polynomial P of degree
// k. The digest d (a polynomial of degree below k) is kept top-aligned in a
// word, D = d << (64-k), so that its highest byte is always D>>56: that index
// needs no mask and no bounds check, and shifting D left by 8 drops the bits
// that need reducing by itself.
type tables struct {
	// mod[t] = (t·x^k mod P) << (64-k): what the byte t pushed out of the
	// top by a shift of 8 leaves behind once reduced.
	mod [256]uint64
	// out[o] = (o·x^512 mod P) << (64-k): the weight of byte o after it has
	// been shifted through the 64-byte window, so that adding it again
	// removes it. It is folded into the step that shifts the next byte in,
	// which keeps it off the step's critical path.
	out [256]uint64
	// in[b] = b << (64-k): byte b entering the window.
	in [256]uint64

	shift uint   // 64-k
	mask  uint64 // splitMask << shift
	err   error  // the polynomial cannot be used (restic's check at Next)
}

var tableCache sync.Map // rc.Pol -> *tables

// tablesFor returns the (shared, read-only) tables of pol.
func tablesFor(pol rc.Pol) *tables {
	if t, ok := tableCache.Load(pol); ok {
		return t.(*tables)
	}
	t := newTables(pol)
	got, _ := tableCache.LoadOrStore(pol, t)
	return got.(*tables)
}

func newTables(pol rc.Pol) *tables {
	t := &tables{}
	k := pol.Deg()
	if k < 8 || k > 53 {
		// restic derives a shift of k-8 and refuses one above 45; a
		// degree below 8 wraps that unsigned shift and fails the same way.
		t.err = errDegree
		return t
	}
	t.shift = uint(64 - k)
	t.mask = splitMask << t.shift
	for b := range 256 {
		t.mod[b] = uint64(rc.Pol(uint64(b)<<uint(k)).Mod(pol)) << t.shift
		// o·x^(8·64) mod P, built one byte shift at a time so no
		// intermediate value overflows.
		h := rc.Pol(b)
		for range windowSize {
			h = (h << 8).Mod(pol)
		}
		t.out[b] = uint64(h) << t.shift
		t.in[b] = uint64(b) << t.shift
	}
	return t
}

// step shifts byte b into the digest D without shifting anything out.
func (t *tables) step(D uint64, b byte) uint64 {
	return D<<8 ^ t.mod[D>>56] ^ t.in[b]
}

// hashWindow returns the top-aligned digest of w (at most 64 bytes), as if
// the window had held zeros before it.
func (t *tables) hashWindow(w []byte) uint64 {
	var D uint64
	for _, b := range w {
		D = t.step(D, b)
	}
	return D
}

// digest turns a top-aligned digest back into restic's value.
func (t *tables) digest(D uint64) uint64 { return D >> t.shift }

// finalCut returns the digest restic reports with the last chunk of a
// stream, which ends at EOF rather than at a cut. restic starts a chunk's
// window holding a single 1 byte and shifts in bytes from MinSize-64 on, so
// a short last chunk still carries that 1.
func (t *tables) finalCut(chunk []byte) uint64 {
	var hashed []byte
	if len(chunk) > MinSize-windowSize {
		hashed = chunk[MinSize-windowSize:]
	}
	if len(hashed) >= windowSize {
		return t.digest(t.hashWindow(hashed[len(hashed)-windowSize:]))
	}
	D := t.step(0, 1)
	for _, b := range hashed {
		D = t.step(D, b)
	}
	return t.digest(D)
}
