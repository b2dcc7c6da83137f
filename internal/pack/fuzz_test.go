package pack_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/pack"
)

var fuzzSpecs = [][]spec{
	{{blob.Data, 10, false}},
	{{blob.Data, 10, true}, {blob.Data, 3, false}, {blob.Data, 0, false}},
	{{blob.Tree, 20, true}, {blob.Tree, 1, false}},
	repeat(spec{blob.Data, 1, true}, 16), // header beyond the eager read
}

// FuzzParseHeader checks that any input either parses to blobs that encode
// back to the same bytes, or fails with ErrInvalid, and never panics.
func FuzzParseHeader(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, s := range fuzzSpecs {
		var blobs []blob.Blob
		for _, b := range makeBlobs(rng, s) {
			blobs = append(blobs, blob.Blob{Handle: b.h, Length: uint32(len(b.plain)) + 32, UncompressedLength: b.ulen})
		}
		plain := pack.AppendHeader(nil, blobs)
		f.Add(plain)
		f.Add(plain[:len(plain)-1])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, plain []byte) {
		blobs, err := pack.ParseHeader(plain)
		if err != nil {
			if !errors.Is(err, pack.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if enc := pack.AppendHeader(nil, blobs); !bytes.Equal(enc, plain) {
			t.Fatalf("ParseHeader(%x) = %v, which encodes to %x", plain, blobs, enc)
		}
		if got, want := pack.HeaderSize(blobs), len(plain)+36; got != want {
			t.Fatalf("HeaderSize = %d, want %d", got, want)
		}
		var off uint64
		for i, b := range blobs {
			if uint64(b.Offset) != off || b.Length < 32 {
				t.Fatalf("blob %d: offset %d length %d, want offset %d and length >= 32", i, b.Offset, b.Length, off)
			}
			off += uint64(b.Length)
		}
	})
}

// FuzzReadHeader feeds whole files to ReadHeader with a fixed key. With
// seal set, data[:split] is taken as the blob area and the rest as a
// plaintext header that is sealed with the key, so that the fuzzer gets
// past the MAC to the parsing and consistency checks.
func FuzzReadHeader(f *testing.F) {
	key := fixedKey(f)
	rng := rand.New(rand.NewPCG(6, 6))
	for _, s := range fuzzSpecs {
		blobs := makeBlobs(rng, s)
		data, entries := buildPack(f, key, blobs)
		f.Add(data, false, uint16(0))
		f.Add(data[:len(data)-1], false, uint16(0))
		f.Add(data[1:], false, uint16(0))
		area := len(data) - pack.HeaderSize(entries)
		sealedSeed := append(bytes.Clone(data[:area]), pack.AppendHeader(nil, entries)...)
		f.Add(sealedSeed, true, uint16(area))
		f.Add(sealedSeed, true, uint16(area+1))
	}
	f.Add([]byte{}, false, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, seal bool, split uint16) {
		if seal {
			s := min(int(split), len(data))
			data = sealedPack(key, data[:s], data[s:])
		}
		blobs, err := pack.ReadHeader(t.Context(), bytes.NewReader(data), int64(len(data)), key)
		if err != nil {
			if !errors.Is(err, pack.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(blobs) == 0 {
			t.Fatal("ReadHeader returned no blobs and no error")
		}
		last := blobs[len(blobs)-1]
		if end := int(last.Offset) + int(last.Length) + pack.HeaderSize(blobs); end != len(data) {
			t.Fatalf("blobs and header account for %d bytes of %d", end, len(data))
		}
	})
}
