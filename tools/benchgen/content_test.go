package main

import (
	"io"
	"testing"
)

func BenchmarkWriteRandom(b *testing.B) {
	cw := newContentWriter()
	b.SetBytes(64 * miB)
	for b.Loop() {
		if err := cw.writeRandom(io.Discard, 64*miB, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteText(b *testing.B) {
	cw := newContentWriter()
	b.SetBytes(16 * miB)
	for i := 0; b.Loop(); i++ {
		if err := cw.writeText(io.Discard, 16*miB, uint64(i%3)); err != nil {
			b.Fatal(err)
		}
	}
}
