package main

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// Second words of the PCG state, one per use, so that the streams for one
// seed differ.
const (
	randomStream = 0x72616e646f6d // "random"
	textStream   = 0x74657874     // "text"
	mutateStream = 0x6d7574617465 // "mutate"
)

// chunkSize is how much a contentWriter hands to each Write.
const chunkSize = 1 * miB

// contentWriter writes file contents through one reusable buffer; each
// worker goroutine has its own.
type contentWriter struct {
	buf []byte
}

func newContentWriter() *contentWriter {
	return &contentWriter{buf: make([]byte, chunkSize)}
}

// write writes size bytes of the given kind, all following from seed.
func (cw *contentWriter) write(w io.Writer, kind contentKind, size int64, seed uint64) error {
	if kind == textContent {
		return cw.writeText(w, size, seed)
	}
	return cw.writeRandom(w, size, seed)
}

// writeRandom writes size incompressible bytes.
func (cw *contentWriter) writeRandom(w io.Writer, size int64, seed uint64) error {
	src := rand.NewPCG(seed, randomStream)
	for size > 0 {
		n := int(min(int64(len(cw.buf)), size))
		b := cw.buf[:(n+7)&^7] // whole words; buf's length is a multiple of 8
		for i := 0; i < len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], src.Uint64())
		}
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		size -= int64(n)
	}
	return nil
}

// writeText writes size bytes of generated prose, log lines or CSV rows.
func (cw *contentWriter) writeText(w io.Writer, size int64, seed uint64) error {
	g := newTextGen(seed)
	for size > 0 {
		b := cw.buf[:0]
		for int64(len(b)) < size && len(b) < len(cw.buf)-maxLine {
			b = g.appendLine(b)
		}
		n := min(int64(len(b)), size)
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}
