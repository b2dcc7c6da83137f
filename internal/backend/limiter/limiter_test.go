package limiter_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/limiter"
	"github.com/cairn-backup/cairn/internal/backend/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backend.Backend {
		return limiter.New(mem.New(), 64<<20, 64<<20)
	})
}

func TestNoCapsNoDecorator(t *testing.T) {
	m := mem.New()
	if be := limiter.New(m, 0, 0); be != m {
		t.Errorf("New without caps = %T, want the backend itself", be)
	}
}

// TestCaps moves 1 MiB each way at 2 MiB/s: each direction takes about
// half a second (less the first burst), never much less.
func TestCaps(t *testing.T) {
	const size, rate = 1 << 20, 2 << 20
	be := limiter.New(mem.New(), rate, rate)
	data := bytes.Repeat([]byte("x"), size)
	h := backend.Handle{Type: backend.PackFile, Name: "aa"}

	start := time.Now()
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("1 MiB saved in %v at 2 MiB/s, want at least 400ms", d)
	}

	start = time.Now()
	var got []byte
	err := be.Load(t.Context(), h, 0, 0, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Load = %d bytes, %v", len(got), err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("1 MiB loaded in %v at 2 MiB/s, want at least 400ms", d)
	}
}
