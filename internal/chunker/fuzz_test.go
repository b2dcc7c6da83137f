package chunker

import (
	"bytes"
	"io"
	"testing"

	rc "github.com/restic/chunker"
)

// FuzzChunker chunks a stream built from the input with both chunkers and
// wants the same chunks. Inputs are small, and no cut comes before 512 KiB,
// so the input shapes a larger stream: size picks its length (up to three
// MaxSize), pattern its content (random from seed, the input repeated, or
// constant), the input is also written over it at an offset taken from
// seed, pol picks the polynomial, and reads, when not zero, caps the size of
// each read.
func FuzzChunker(f *testing.F) {
	f.Add([]byte("hello"), uint64(1), uint32(MinSize+1), uint8(0), uint8(0), uint16(0))
	f.Add([]byte{}, uint64(0), uint32(MaxSize), uint8(2), uint8(1), uint16(0))
	f.Add([]byte("abc"), uint64(77<<8), uint32(2*MaxSize+3), uint8(1), uint8(2), uint16(4093))
	f.Add(bytes.Repeat([]byte{0xaa, 0x55}, 40), uint64(3), uint32(5<<20), uint8(3), uint8(0), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, size uint32, pattern, pol uint8, reads uint16) {
		n := int(size % (3*MaxSize + 1))
		var data []byte
		switch pattern % 3 {
		case 0:
			data = randomBytes(seed, n)
		case 1:
			if len(in) == 0 {
				data = make([]byte, n)
			} else {
				data = bytes.Repeat(in, n/len(in)+1)[:n]
			}
		case 2:
			data = bytes.Repeat([]byte{byte(seed)}, n)
		}
		if n > 0 {
			copy(data[int((seed>>8)%uint64(n)):], in)
		}
		p := testPols[int(pol)%len(testPols)]
		wrap := func(r io.Reader) io.Reader {
			if reads == 0 {
				return r
			}
			return &cappedReader{r: r, max: int(reads)}
		}
		want, wantErr := collect(rc.New(wrap(bytes.NewReader(data)), p))
		got, gotErr := collect(New(wrap(bytes.NewReader(data)), p))
		compare(t, want, wantErr, got, gotErr)
	})
}

// cappedReader returns at most max bytes a read.
type cappedReader struct {
	r   io.Reader
	max int
}

func (c *cappedReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.max)])
}
