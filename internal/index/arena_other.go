//go:build !linux

package index

// arena is unused where anonymous memory cannot be remapped: records stay
// on the Go heap.
type arena struct{}

func (p *part) reserve(n int) {
	if n > cap(p.recs) {
		p.recs = reserveHeap(p.recs, max(n, 2*cap(p.recs)))
	}
}

func (p *part) fit() { p.recs = fitHeap(p.recs) }
