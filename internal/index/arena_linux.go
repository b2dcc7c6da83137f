package index

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An arena is anonymous memory mapped outside the Go heap that holds the
// records of one part once it is large. The garbage collector neither
// scans it nor counts it towards its heap goal, so a large index costs its
// size in RSS and no more: on the heap it would also cost GOGC percent of
// headroom. It grows with mremap, which moves pages instead of copying
// them, so growing never needs the old and the new array at once. A
// finalizer unmaps it once the part holding it is unreachable.
//
// The records are only ever reached through the part under the index's
// lock, and no slice of them leaves the package, so nothing can use an
// arena after it is unmapped.
type arena struct {
	b []byte
}

func (a *arena) free() {
	if a.b != nil {
		_ = unix.Munmap(a.b)
		a.b = nil
	}
}

func (a *arena) recs(n int) []rec {
	return unsafe.Slice((*rec)(unsafe.Pointer(&a.b[0])), len(a.b)/recSize)[:n]
}

func pageRound(n int) int {
	ps := unix.Getpagesize()
	return (n + ps - 1) / ps * ps
}

// reserve makes room for at least n records in p.recs, keeping its
// contents. Memory that cannot be mapped falls back to the Go heap.
func (p *part) reserve(n int) {
	if n <= cap(p.recs) {
		return
	}
	c := max(n, 2*cap(p.recs))
	if c < arenaMin && p.mem == nil {
		p.recs = reserveHeap(p.recs, c)
		return
	}
	size := pageRound(c * recSize)
	if p.mem == nil {
		b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			p.recs = reserveHeap(p.recs, c)
			return
		}
		a := &arena{b: b}
		runtime.SetFinalizer(a, (*arena).free)
		s := a.recs(len(p.recs))
		copy(s, p.recs)
		p.recs, p.mem = s, a
		return
	}
	b, err := unix.Mremap(p.mem.b, size, unix.MREMAP_MAYMOVE)
	if err != nil {
		s := reserveHeap(nil, c)[:len(p.recs)]
		copy(s, p.recs)
		p.mem.free()
		p.recs, p.mem = s, nil
		return
	}
	p.mem.b = b
	p.recs = p.mem.recs(len(p.recs))
}

// fit gives back the unused end of p.recs.
func (p *part) fit() {
	if p.mem == nil {
		p.recs = fitHeap(p.recs)
		return
	}
	size := pageRound(max(len(p.recs), 1) * recSize)
	if size >= len(p.mem.b) {
		return
	}
	if b, err := unix.Mremap(p.mem.b, size, 0); err == nil {
		p.mem.b = b
		p.recs = p.mem.recs(len(p.recs))
	}
}
