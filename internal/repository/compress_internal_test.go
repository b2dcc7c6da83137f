package repository

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestWorthCompressing(t *testing.T) {
	c, err := newCodec(CompressionAuto)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("a line of log text that repeats, more or less\n"), 1<<20/46)
	mixed := append(append([]byte{}, random[:512<<10]...), text[:512<<10]...)
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"random 1 MiB", random, false},
		{"random 20 KiB", random[:20<<10], false},
		{"random 3 KiB (too small to probe)", random[:3<<10], true},
		{"text 1 MiB", text, true},
		{"text 8 KiB", text[:8<<10], true},
		{"half random, half text", mixed, true},
	} {
		if got := c.worthCompressing(tc.data, nil); got != tc.want {
			t.Errorf("worthCompressing(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func BenchmarkWorthCompressingRandom(b *testing.B) {
	c, _ := newCodec(CompressionAuto)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	scratch := make([]byte, 0, 64<<10)
	b.SetBytes(int64(len(random)))
	for b.Loop() {
		c.worthCompressing(random, scratch)
	}
}
