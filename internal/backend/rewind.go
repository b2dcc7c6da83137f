package backend

import (
	"bytes"
	"io"
)

// RewindReader is a reader of known length that can start over, so that a
// failed upload can be retried.
type RewindReader interface {
	io.Reader
	// Rewind goes back to the start.
	Rewind() error
	// Length is the total number of bytes.
	Length() int64
}

// ByteReader is a RewindReader over a byte slice.
type ByteReader struct {
	*bytes.Reader
	buf []byte
}

// NewByteReader returns a RewindReader reading buf.
func NewByteReader(buf []byte) *ByteReader {
	return &ByteReader{Reader: bytes.NewReader(buf), buf: buf}
}

// Rewind implements RewindReader.
func (b *ByteReader) Rewind() error {
	_, err := b.Seek(0, io.SeekStart)
	return err
}

// Length implements RewindReader.
func (b *ByteReader) Length() int64 { return int64(len(b.buf)) }

// Bytes returns the whole buffer, letting in-memory backends skip a copy.
func (b *ByteReader) Bytes() []byte { return b.buf }

// FileReader is a RewindReader over an io.ReadSeeker of known size, such as
// a temporary pack file.
type FileReader struct {
	rs   io.ReadSeeker
	size int64
}

// NewFileReader returns a RewindReader over the first size bytes of rs.
func NewFileReader(rs io.ReadSeeker, size int64) *FileReader {
	return &FileReader{rs: rs, size: size}
}

func (f *FileReader) Read(p []byte) (int, error) { return f.rs.Read(p) }

// Rewind implements RewindReader.
func (f *FileReader) Rewind() error {
	_, err := f.rs.Seek(0, io.SeekStart)
	return err
}

// Length implements RewindReader.
func (f *FileReader) Length() int64 { return f.size }
