package crypto_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/cairn-backup/cairn/internal/crypto"
)

func TestSealToOpens(t *testing.T) {
	key, err := crypto.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 3<<20 + 7} {
		plain := make([]byte, n)
		_, _ = rand.Read(plain)
		var out bytes.Buffer
		w, err := key.SealTo(&out, plain, nil)
		if err != nil || w != n+crypto.Overhead || out.Len() != w {
			t.Fatalf("SealTo(%d bytes) = %d, %v; wrote %d", n, w, err, out.Len())
		}
		got, err := key.Open(nil, out.Bytes())
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("Open(SealTo(%d bytes)) = %d bytes, %v", n, len(got), err)
		}
	}
}

func BenchmarkSealTo(b *testing.B) {
	key, _ := crypto.NewRandomKey()
	plain := make([]byte, 1<<20)
	scratch := make([]byte, 64<<10)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = key.SealTo(discard{}, plain, scratch)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
