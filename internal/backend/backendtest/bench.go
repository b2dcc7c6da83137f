package backendtest

import (
	"io"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
)

// benchSize is the size of the file each benchmark iteration moves: about
// a small pack.
const benchSize = 1 << 20

// Bench runs the backend benchmarks as sub-benchmarks of b. newBackend must
// return a new, empty backend each time; Bench closes it.
func Bench(b *testing.B, newBackend func(b *testing.B) backend.Backend) {
	b.Run("Save", func(b *testing.B) {
		be := newBackend(b)
		defer func() { _ = be.Close() }()
		data, name := randomData(b, benchSize)
		h := backend.Handle{Type: backend.PackFile, Name: name}
		rd := backend.NewByteReader(data)
		replace := be.Properties().HasAtomicReplace
		b.SetBytes(benchSize)
		for b.Loop() {
			if err := rd.Rewind(); err != nil {
				b.Fatalf("Rewind() = %v, want nil", err)
			}
			if err := be.Save(b.Context(), h, rd); err != nil {
				b.Fatalf("Save(%v) = %v, want nil", h, err)
			}
			if !replace {
				if err := be.Remove(b.Context(), h); err != nil {
					b.Fatalf("Remove(%v) = %v, want nil", h, err)
				}
			}
		}
	})
	b.Run("Load", func(b *testing.B) {
		be := newBackend(b)
		defer func() { _ = be.Close() }()
		h, _ := save(b, be, backend.PackFile, benchSize)
		b.SetBytes(benchSize)
		for b.Loop() {
			err := be.Load(b.Context(), h, 0, 0, func(rd io.Reader) error {
				_, err := io.Copy(io.Discard, rd)
				return err
			})
			if err != nil {
				b.Fatalf("Load(%v) = %v, want nil", h, err)
			}
		}
	})
}
