package backend_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
)

func TestCallLoadFn(t *testing.T) {
	mine := errors.New("bad data")
	err := backend.CallLoadFn(strings.NewReader("x"), func(io.Reader) error { return mine })
	if !errors.Is(err, mine) || !backend.IsPermanent(err) {
		t.Errorf("fn's own error = %v, want it marked permanent", err)
	}
	broken := errors.New("connection reset")
	err = backend.CallLoadFn(iotest.ErrReader(broken), func(rd io.Reader) error {
		_, err := io.ReadAll(rd)
		return err
	})
	if !errors.Is(err, broken) || backend.IsPermanent(err) {
		t.Errorf("error after a failed read = %v, want it transient", err)
	}
}

func TestLoadPastEnd(t *testing.T) {
	h := backend.Handle{Type: backend.PackFile, Name: "aa"}
	called := false
	if err := backend.LoadPastEnd(h, 0, 10, 10, func(rd io.Reader) error {
		called = true
		b, err := io.ReadAll(rd)
		if len(b) != 0 {
			t.Errorf("read %d bytes at the end, want 0", len(b))
		}
		return err
	}); err != nil || !called {
		t.Errorf("zero bytes at the end = %v (fn called %v), want an empty read", err, called)
	}
	if err := backend.LoadPastEnd(h, 1, 10, 10, func(io.Reader) error { return nil }); !backend.IsPermanent(err) {
		t.Errorf("a byte past the end = %v, want a permanent error", err)
	}
}

func TestCheckRepositoryAndListConfig(t *testing.T) {
	m := mem.New()
	if err := backend.CheckRepository(t.Context(), m, "mem:x"); !errors.Is(err, backend.ErrNotExist) || !strings.Contains(err.Error(), "mem:x") {
		t.Errorf("CheckRepository(empty) = %v, want ErrNotExist naming the place", err)
	}
	n := 0
	if err := backend.ListConfig(t.Context(), m, func(backend.FileInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("ListConfig(empty) = %v after %d calls", err, n)
	}
	if err := m.Save(t.Context(), backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader([]byte("c"))); err != nil {
		t.Fatal(err)
	}
	if err := backend.CheckRepository(t.Context(), m, "mem:x"); err != nil {
		t.Errorf("CheckRepository = %v, want nil", err)
	}
	if err := backend.ListConfig(t.Context(), m, func(backend.FileInfo) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("ListConfig = %v after %d calls, want 1 call", err, n)
	}
}
