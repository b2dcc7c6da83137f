// Package chunker splits a stream into content-defined chunks at exactly
// the places github.com/restic/chunker cuts it, only faster.
//
// The rules are restic's: a chunk is cut after the first byte at which the
// Rabin fingerprint of the last 64 bytes (over the repository's polynomial)
// has its low 20 bits clear, looking no earlier than MinSize bytes into the
// chunk; a chunk that reaches MaxSize bytes is cut there; the stream's last
// bytes form the last chunk. The speed comes from hashing a large read
// buffer in place, several windows at a time (see scan.go), with tables
// computed once per polynomial.
//
// The types and the polynomial stay restic's (Pol, Chunk), so callers can
// swap one chunker for the other.
package chunker

import (
	"errors"
	"io"

	rc "github.com/restic/chunker"
)

// Pol is a polynomial from a repository config.
type Pol = rc.Pol

// Chunk is one chunk: its offset in the stream, its length, the digest at
// its cut, and its bytes.
type Chunk = rc.Chunk

const (
	// MinSize is the smallest chunk, except the last one of a stream.
	MinSize = rc.MinSize
	// MaxSize is the largest chunk.
	MaxSize = rc.MaxSize

	windowSize = 64
	splitMask  = 1<<20 - 1

	// readSize is how much one read asks for. It must be a multiple of
	// resticBlock (see fill).
	readSize = 1 << 20
	// resticBlock is what restic's chunker reads at a time.
	resticBlock = 512 << 10
)

var (
	errNoTables = errors.New("tables for polynomial computation not initialized")
	errDegree   = errors.New("the polynomial must have a degree less than or equal 53")
)

// Chunker splits the bytes of a reader into chunks. It is not safe for
// concurrent use; reuse one for many streams with Reset.
type Chunker struct {
	rd  io.Reader
	tab *tables // nil for the zero polynomial

	// buf[histLen:bmax] is what was last read; buf[:bpos] is always the
	// bytes of the stream just before buf[bpos] (as many as there were),
	// because each read first moves the last windowSize bytes to the front.
	buf        []byte
	bpos, bmax int

	start uint  // stream offset of the chunk Next returns next
	eof   bool  // the reader returned io.EOF
	err   error // a read error, returned once the bytes before it are used
}

const histLen = windowSize

// New returns a Chunker that splits rd by pol.
func New(rd io.Reader, pol Pol) *Chunker {
	c := &Chunker{buf: make([]byte, histLen+readSize)}
	c.Reset(rd, pol)
	return c
}

// Reset makes c split rd by pol from the start, keeping its buffer.
func (c *Chunker) Reset(rd io.Reader, pol Pol) {
	*c = Chunker{rd: rd, buf: c.buf, bpos: histLen, bmax: histLen}
	if pol != 0 {
		c.tab = tablesFor(pol)
	}
}

// Next returns the next chunk, its data appended to buf[:0] (so it is in
// buf when buf has the room). After the last chunk it returns io.EOF. A
// read error is returned as is, once the chunks before it that restic
// would have returned have been returned; the chunker is done after it.
func (c *Chunker) Next(buf []byte) (Chunk, error) {
	data := buf[:0]
	if c.tab == nil {
		return Chunk{}, errNoTables
	}
	t := c.tab
	if t.err != nil {
		return Chunk{}, t.err
	}
	for {
		if c.bpos >= c.bmax {
			if c.eof {
				if len(data) == 0 {
					return Chunk{}, io.EOF
				}
				return c.cut(data, t.finalCut(data)), nil
			}
			if c.err != nil {
				return Chunk{}, c.err
			}
			c.fill()
			continue
		}
		// Chunk offsets [have, have+avail) are in the buffer; restic checks
		// for a cut at offsets MinSize-1 to MaxSize-1.
		have, avail := len(data), c.bmax-c.bpos
		if have+avail < MinSize {
			data = append(data, c.buf[c.bpos:c.bmax]...)
			c.bpos = c.bmax
			continue
		}
		from := c.bpos + max(MinSize-1-have, 0)
		to := c.bpos + min(avail, MaxSize-have)
		hit, D := t.scan(c.buf, from, to)
		if hit < 0 {
			if have+avail < MaxSize {
				data = append(data, c.buf[c.bpos:c.bmax]...)
				c.bpos = c.bmax
				continue
			}
			hit = to - 1
		}
		data = append(data, c.buf[c.bpos:hit+1]...)
		c.bpos = hit + 1
		return c.cut(data, t.digest(D)), nil
	}
}

// cut returns data as the chunk that starts at c.start.
func (c *Chunker) cut(data []byte, digest uint64) Chunk {
	ch := Chunk{Start: c.start, Length: uint(len(data)), Cut: digest, Data: data}
	c.start += uint(len(data))
	return ch
}

// fill reads the next block, keeping the window's worth of history before
// it.
func (c *Chunker) fill() {
	copy(c.buf[:histLen], c.buf[c.bmax-histLen:c.bmax])
	n, err := io.ReadFull(c.rd, c.buf[histLen:])
	switch {
	case err == nil, err == io.ErrUnexpectedEOF:
		// A short read ends the stream once the next read says so, as
		// with restic.
	case err == io.EOF:
		c.eof = true
	default:
		// restic reads whole blocks of resticBlock and drops one that
		// fails part way, so it cuts only within the blocks before the
		// error. Reads here start at multiples of resticBlock too (all
		// but the last read are full), so keep the same bytes.
		n -= n % resticBlock
		c.err = err
	}
	c.bpos, c.bmax = histLen, histLen+n
}
