package pack_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/pack"
)

// fixedKeyJSON is a master key with fixed parts, so that fuzz seeds stay
// valid from run to run.
const fixedKeyJSON = `{"mac":{"k":"AQIDBAUGBwgJCgsMDQ4PEA==","r":"ERITFBUWFxgZGhscHR4fIA=="},"encrypt":"ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A="}`

func fixedKey(tb testing.TB) *crypto.Key {
	tb.Helper()
	var k crypto.Key
	if err := json.Unmarshal([]byte(fixedKeyJSON), &k); err != nil {
		tb.Fatalf("decode fixed key: %v", err)
	}
	return &k
}

// testBlob is a blob before and after sealing.
type testBlob struct {
	h     blob.Handle
	plain []byte // what was sealed (stands in for zstd output if ulen != 0)
	ulen  uint32
}

// spec describes a blob to generate: its type, plaintext size and whether
// it is marked compressed.
type spec struct {
	typ        blob.Type
	size       int
	compressed bool
}

func makeBlobs(rng *rand.Rand, specs []spec) []testBlob {
	out := make([]testBlob, len(specs))
	for i, s := range specs {
		p := make([]byte, s.size)
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		b := testBlob{h: blob.Handle{ID: id.Hash(p), Type: s.typ}, plain: p}
		if s.compressed {
			// The pack layer does not look inside; any non-zero length
			// marks the blob as compressed.
			b.ulen = uint32(2*s.size + 1)
		}
		out[i] = b
	}
	return out
}

// buildPack writes blobs into a pack, alternating between Add and
// AddSealing, and returns the pack bytes and the writer's entries.
func buildPack(tb testing.TB, key *crypto.Key, blobs []testBlob) ([]byte, []blob.Blob) {
	tb.Helper()
	w := pack.NewWriter(key, nil)
	for i, b := range blobs {
		var err error
		if i%2 == 0 {
			err = w.Add(b.h, key.Seal(nil, b.plain), b.ulen)
		} else {
			err = w.AddSealing(b.h, b.plain, b.ulen)
		}
		if err != nil {
			tb.Fatalf("add blob %d: %v", i, err)
		}
	}
	size := w.Size()
	entries := w.Blobs()
	_, err := w.Finish()
	data := w.Bytes()
	if err != nil {
		tb.Fatalf("Finish: %v", err)
	}
	if len(data) != size {
		tb.Fatalf("Size() before Finish = %d, pack has %d bytes", size, len(data))
	}
	return data, entries
}
