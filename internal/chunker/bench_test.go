package chunker

import (
	"bytes"
	"io"
	"testing"

	rc "github.com/restic/chunker"
)

// BenchmarkChunker chunks 64 MiB of random data with this package and with
// github.com/restic/chunker, reusing one chunker and one buffer each, as
// the archiver does.
func BenchmarkChunker(b *testing.B) {
	data := randomBytes(42, 64<<20)
	pol := testPols[0]
	run := func(b *testing.B, c nexter, reset func(io.Reader)) {
		buf := make([]byte, 0, MaxSize)
		rd := bytes.NewReader(data)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			rd.Reset(data)
			reset(rd)
			for {
				_, err := c.Next(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("cairn", func(b *testing.B) {
		c := New(nil, pol)
		run(b, c, func(r io.Reader) { c.Reset(r, pol) })
	})
	b.Run("restic", func(b *testing.B) {
		c := rc.New(nil, pol)
		run(b, c, func(r io.Reader) { c.Reset(r, pol) })
	})
}
