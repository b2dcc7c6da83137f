package pack_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/pack"
)

// countingReader counts ReadAt calls.
type countingReader struct {
	io.ReaderAt
	reads atomic.Int32
}

func (r *countingReader) ReadAt(p []byte, off int64) (int, error) {
	r.reads.Add(1)
	return r.ReaderAt.ReadAt(p, off)
}

func repeat(s spec, n int) []spec {
	out := make([]spec, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	key := fixedKey(t)
	tests := []struct {
		name  string
		specs []spec
		reads int32 // ReadAt calls ReadHeader should need
	}{
		{"one data blob", []spec{{blob.Data, 100, false}}, 1},
		{"empty plaintext", []spec{{blob.Data, 0, false}}, 1},
		{"data mixed compression", []spec{
			{blob.Data, 1000, true}, {blob.Data, 5, false}, {blob.Data, 70000, true}, {blob.Data, 1, false},
		}, 1},
		{"trees", []spec{{blob.Tree, 300, true}, {blob.Tree, 20, false}, {blob.Tree, 4096, true}}, 1},
		{"data and trees", []spec{{blob.Data, 10, false}, {blob.Tree, 10, true}, {blob.Data, 10, true}, {blob.Tree, 10, false}}, 1},
		{"eager read just fits", repeat(spec{blob.Data, 10, true}, 15), 1},
		{"header needs second read", repeat(spec{blob.Tree, 10, true}, 16), 2},
		{"many blobs", repeat(spec{blob.Data, 50, false}, 1000), 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blobs := makeBlobs(rand.New(rand.NewPCG(1, uint64(i))), tt.specs)
			data, written := buildPack(t, key, blobs)

			rd := &countingReader{ReaderAt: bytes.NewReader(data)}
			got, err := pack.ReadHeader(t.Context(), rd, int64(len(data)), key)
			if err != nil {
				t.Fatalf("ReadHeader: %v", err)
			}
			if diff := cmp.Diff(written, got); diff != "" {
				t.Errorf("ReadHeader differs from Writer.Blobs (-written +read):\n%s", diff)
			}
			if n := rd.reads.Load(); n != tt.reads {
				t.Errorf("ReadHeader made %d reads, want %d", n, tt.reads)
			}
			if hs := pack.HeaderSize(got); len(data)-hs != int(got[len(got)-1].Offset+got[len(got)-1].Length) {
				t.Errorf("HeaderSize = %d does not account for the pack's tail", hs)
			}
			for j, b := range got {
				want := blobs[j]
				if b.Handle != want.h || b.UncompressedLength != want.ulen {
					t.Errorf("blob %d = %v ulen %d, want %v ulen %d", j, b.Handle, b.UncompressedLength, want.h, want.ulen)
				}
				plain, err := key.Open(nil, data[b.Offset:b.Offset+b.Length])
				if err != nil {
					t.Fatalf("open blob %d at %d+%d: %v", j, b.Offset, b.Length, err)
				}
				if !bytes.Equal(plain, want.plain) {
					t.Errorf("blob %d decrypts to different bytes", j)
				}
			}
		})
	}
}

func TestFinishEmpty(t *testing.T) {
	w := pack.NewWriter(fixedKey(t), nil)
	if _, err := w.Finish(); !errors.Is(err, pack.ErrEmpty) {
		t.Fatalf("Finish() of an empty pack = %v, want ErrEmpty", err)
	}
	// The writer stays usable.
	if err := w.AddSealing(blob.Handle{Type: blob.Data}, []byte("x"), 0); err != nil {
		t.Fatalf("Add after failed Finish: %v", err)
	}
	if _, err := w.Finish(); err != nil {
		t.Fatalf("Finish: %v", err)
	}
}

func TestWriterErrors(t *testing.T) {
	key := fixedKey(t)
	sealed := key.Seal(nil, []byte("hello"))
	tests := []struct {
		name string
		do   func(t *testing.T, w *pack.Writer) error
	}{
		{"invalid type", func(_ *testing.T, w *pack.Writer) error { return w.Add(blob.Handle{}, sealed, 0) }},
		{"invalid type sealing", func(_ *testing.T, w *pack.Writer) error { return w.AddSealing(blob.Handle{Type: 7}, []byte("x"), 0) }},
		{"shorter than overhead", func(_ *testing.T, w *pack.Writer) error {
			return w.Add(blob.Handle{Type: blob.Data}, sealed[:crypto.Overhead-1], 0)
		}},
		{"add after finish", func(t *testing.T, w *pack.Writer) error {
			mustFinishOne(t, w, sealed)
			return w.Add(blob.Handle{Type: blob.Data}, sealed, 0)
		}},
		{"finish twice", func(t *testing.T, w *pack.Writer) error {
			mustFinishOne(t, w, sealed)
			_, err := w.Finish()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := pack.NewWriter(key, nil)
			if err := tt.do(t, w); err == nil {
				t.Fatal("got no error")
			} else if errors.Is(err, pack.ErrFull) {
				t.Fatalf("got %v, which wrongly claims the pack is full", err)
			}
		})
	}
}

func mustFinishOne(t *testing.T, w *pack.Writer, sealed []byte) {
	t.Helper()
	if err := w.Add(blob.Handle{Type: blob.Data}, sealed, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestWriterReset(t *testing.T) {
	key := fixedKey(t)
	rng := rand.New(rand.NewPCG(2, 2))
	first := makeBlobs(rng, []spec{{blob.Data, 100, false}, {blob.Data, 200, true}})
	second := makeBlobs(rng, []spec{{blob.Tree, 50, true}})

	w := pack.NewWriter(key, nil)
	for _, b := range first {
		if err := w.AddSealing(b.h, b.plain, b.ulen); err != nil {
			t.Fatal(err)
		}
	}
	firstBlobs := w.Blobs()
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if firstBlobs[0].Offset != 0 {
		t.Fatalf("first blob at offset %d, want 0", firstBlobs[0].Offset)
	}

	w.Reset(nil)
	if w.Count() != 0 {
		t.Fatalf("Count() after Reset = %d, want 0", w.Count())
	}
	for _, b := range second {
		if err := w.AddSealing(b.h, b.plain, b.ulen); err != nil {
			t.Fatal(err)
		}
	}
	_, err := w.Finish()
	data := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	got, err := pack.ReadHeader(t.Context(), bytes.NewReader(data), int64(len(data)), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Handle != second[0].h || got[0].Offset != 0 {
		t.Fatalf("second pack lists %v, want just %v at offset 0", got, second[0].h)
	}
	if firstBlobs[1].Handle != first[1].h {
		t.Fatal("Blobs() result changed by Reset")
	}
}

// TestHeaderFull fills a header to MaxHeaderSize with compressed entries.
func TestHeaderFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 30 MB pack")
	}
	key := fixedKey(t)
	sealed := key.Seal(nil, nil) // 32 bytes, the smallest blob
	h := blob.Handle{Type: blob.Data}
	w := pack.NewWriter(key, nil)
	for i := range pack.MaxHeaderEntries {
		h.ID[0], h.ID[1], h.ID[2] = byte(i), byte(i>>8), byte(i>>16)
		if err := w.Add(h, sealed, 1); err != nil {
			t.Fatalf("add entry %d of %d: %v", i, pack.MaxHeaderEntries, err)
		}
	}
	if err := w.Add(h, sealed, 1); !errors.Is(err, pack.ErrFull) {
		t.Fatalf("Add beyond MaxHeaderEntries = %v, want ErrFull", err)
	}
	_, err := w.Finish()
	data := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if hs := pack.HeaderSize(w.Blobs()); hs > pack.MaxHeaderSize {
		t.Fatalf("header of %d bytes exceeds MaxHeaderSize", hs)
	}
	got, err := pack.ReadHeader(t.Context(), bytes.NewReader(data), int64(len(data)), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != pack.MaxHeaderEntries {
		t.Fatalf("read %d entries, want %d", len(got), pack.MaxHeaderEntries)
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	key := fixedKey(t)
	sealed := key.Seal(nil, make([]byte, 16<<10))
	h := blob.Handle{Type: blob.Data}
	w := pack.NewWriter(key, nil)
	fill := func() {
		w.Reset(nil)
		for range 100 {
			if err := w.Add(h, sealed, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill() // grow the buffers once
	if n := testing.AllocsPerRun(20, fill); n != 0 {
		t.Errorf("refilling a writer allocates %v times per pack, want 0", n)
	}
}

// BenchmarkWriter builds packs of 1000 sealed 16 KiB blobs in a reused
// writer. Add does not allocate once the buffer has grown; what remains
// per pack are the cipher streams of Finish's header seal and check.
func BenchmarkWriter(b *testing.B) {
	key := fixedKey(b)
	const n, size = 1000, 16 << 10
	sealed := key.Seal(nil, make([]byte, size))
	h := blob.Handle{Type: blob.Data}
	w := pack.NewWriter(key, nil)
	build := func() {
		w.Reset(nil)
		for i := range n {
			h.ID[0], h.ID[1] = byte(i), byte(i>>8)
			if err := w.Add(h, sealed, 0); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Finish(); err != nil {
			b.Fatal(err)
		}
	}
	build() // grow the buffers outside the measurement
	b.SetBytes(n * int64(len(sealed)))
	b.ReportAllocs()
	for b.Loop() {
		build()
	}
}
