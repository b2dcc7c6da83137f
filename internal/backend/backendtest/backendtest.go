// Package backendtest is a conformance suite for [backend.Backend]
// implementations, in the spirit of testing/fstest. A backend's test calls
// [Run] with a constructor for fresh, empty backends, and [Bench] from a
// benchmark.
//
// File names are the hex SHA-256 of the content, as in a real repository.
package backendtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Run runs the conformance suite as subtests of t. newBackend must return a
// new, empty backend each time it is called; Run closes it when the subtest
// ends, and newBackend registers any further cleanup with t.Cleanup.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	run(t, newBackend, suite{})
}

// RunAppendOnly is Run for a backend on a server that refuses to delete
// (rest-server --append-only): every test runs, but Remove of an existing
// file other than a lock must fail with a permanent error and leave the
// file in place, and nothing is saved twice under one name. Locks can be
// removed, or no one could ever unlock.
func RunAppendOnly(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	run(t, newBackend, suite{appendOnly: true})
}

// suite says what kind of backend the suite runs against.
type suite struct {
	appendOnly bool
}

// removeExisting removes h, which exists, and reports whether it did; on
// an append-only backend it checks the refusal instead (except for locks).
func (s suite) removeExisting(t *testing.T, be backend.Backend, h backend.Handle) bool {
	t.Helper()
	err := be.Remove(t.Context(), h)
	if !s.appendOnly || h.Type == backend.LockFile {
		if err != nil {
			t.Errorf("Remove(%v) = %v, want nil", h, err)
		}
		return err == nil
	}
	if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Remove(%v) on an append-only backend = %v, want a permanent error", h, err)
	}
	if _, err := be.Stat(t.Context(), h); err != nil {
		t.Errorf("Stat(%v) after a refused Remove = %v, want the file still there", h, err)
	}
	return false
}

func run(t *testing.T, newBackend func(t *testing.T) backend.Backend, s suite) {
	tests := []struct {
		name string
		fn   func(t *testing.T, be backend.Backend, s suite)
	}{
		{"SaveLoad", testSaveLoad},
		{"LoadRange", testLoadRange},
		{"LoadFnError", testLoadFnError},
		{"Stat", testStat},
		{"Missing", testMissing},
		{"List", testList},
		{"ListFnError", testListFnError},
		{"Remove", testRemove},
		{"Concurrent", testConcurrent},
		{"LargeFile", testLargeFile},
		{"SaveRewind", testSaveRewind},
		{"SaveCancelled", testSaveCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t)
			t.Cleanup(func() {
				if err := be.Close(); err != nil {
					t.Errorf("Close() = %v, want nil", err)
				}
			})
			tt.fn(t, be, s)
		})
	}
}

// randomData returns n random bytes and their hex SHA-256.
func randomData(t testing.TB, n int) ([]byte, string) {
	t.Helper()
	data := make([]byte, n)
	_, _ = rand.Read(data) // never fails
	return data, hashName(data)
}

func hashName(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// save stores n random bytes as a file of type typ and returns its handle
// and content.
func save(t testing.TB, be backend.Backend, typ backend.FileType, n int) (backend.Handle, []byte) {
	t.Helper()
	data, name := randomData(t, n)
	h := backend.Handle{Type: typ, Name: name}
	if typ == backend.ConfigFile {
		h.Name = ""
	}
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save(%v) = %v, want nil", h, err)
	}
	return h, data
}

// load reads a whole file.
func load(t testing.TB, be backend.Backend, h backend.Handle) []byte {
	t.Helper()
	data, err := backend.LoadAll(t.Context(), be, h)
	if err != nil {
		t.Fatalf("LoadAll(%v) = %v, want nil", h, err)
	}
	return data
}

func testSaveLoad(t *testing.T, be backend.Backend, s suite) {
	for _, typ := range backend.AllTypes {
		for _, size := range []int{0, 1, 4096} {
			if s.appendOnly && typ == backend.ConfigFile && size != 4096 {
				continue // the config file can be saved only once
			}
			t.Run(fmt.Sprintf("%v/%d", typ, size), func(t *testing.T) {
				h, want := save(t, be, typ, size)
				if got := load(t, be, h); !bytes.Equal(got, want) {
					t.Errorf("LoadAll(%v) = %d bytes (sha256 %.8s), want %d bytes (sha256 %.8s)",
						h, len(got), hashName(got), len(want), hashName(want))
				}
				// Leave no file behind: the config handle is saved once per size.
				s.removeExisting(t, be, h)
			})
		}
	}
}

func testLoadRange(t *testing.T, be backend.Backend, s suite) {
	const size = 1000
	h, data := save(t, be, backend.PackFile, size)
	tests := []struct {
		name    string
		length  int
		offset  int64
		wantErr bool
	}{
		{name: "whole", length: 0, offset: 0},
		{name: "whole with length", length: size, offset: 0},
		{name: "to end", length: 0, offset: 100},
		{name: "prefix", length: 10, offset: 0},
		{name: "middle", length: 20, offset: 500},
		{name: "last byte", length: 1, offset: size - 1},
		{name: "suffix with length", length: 100, offset: size - 100},
		{name: "offset at end", length: 0, offset: size},
		{name: "length beyond end", length: 101, offset: size - 100, wantErr: true},
		{name: "length beyond size", length: size + 1, offset: 0, wantErr: true},
		{name: "offset beyond end", length: 0, offset: size + 1, wantErr: true},
		{name: "offset and length beyond end", length: 1, offset: size, wantErr: true},
		{name: "negative offset", length: 0, offset: -1, wantErr: true},
		{name: "negative length", length: -1, offset: 0, wantErr: true},
		{name: "end past the largest offset", length: math.MaxInt, offset: 1, wantErr: true},
		{name: "offset and length at their largest", length: math.MaxInt, offset: math.MaxInt64, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			err := be.Load(t.Context(), h, tt.length, tt.offset, func(rd io.Reader) error {
				var err error
				got, err = io.ReadAll(rd)
				return err
			})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Load(%v, length %d, offset %d) = nil (read %d bytes), want error", h, tt.length, tt.offset, len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%v, length %d, offset %d) = %v, want nil", h, tt.length, tt.offset, err)
			}
			want := data[tt.offset:]
			if tt.length > 0 {
				want = want[:tt.length]
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Load(%v, length %d, offset %d) read %d bytes (sha256 %.8s), want %d bytes (sha256 %.8s)",
					h, tt.length, tt.offset, len(got), hashName(got), len(want), hashName(want))
			}
		})
	}
}

func testLoadFnError(t *testing.T, be backend.Backend, s suite) {
	h, _ := save(t, be, backend.SnapshotFile, 10)
	errStop := errors.New("stop")
	if err := be.Load(t.Context(), h, 0, 0, func(io.Reader) error { return errStop }); !errors.Is(err, errStop) {
		t.Errorf("Load(%v) with failing fn = %v, want %v", h, err, errStop)
	}
}

func testStat(t *testing.T, be backend.Backend, s suite) {
	for _, size := range []int{0, 1, 1234} {
		h, _ := save(t, be, backend.IndexFile, size)
		fi, err := be.Stat(t.Context(), h)
		if err != nil {
			t.Fatalf("Stat(%v) = %v, want nil", h, err)
		}
		if want := (backend.FileInfo{Name: h.Name, Size: int64(size)}); fi != want {
			t.Errorf("Stat(%v) = %+v, want %+v", h, fi, want)
		}
	}
	h, _ := save(t, be, backend.ConfigFile, 77)
	if fi, err := be.Stat(t.Context(), h); err != nil || fi.Size != 77 {
		t.Errorf("Stat(%v) = %+v, %v, want size 77, nil", h, fi, err)
	}
}

func testMissing(t *testing.T, be backend.Backend, s suite) {
	save(t, be, backend.PackFile, 10) // the repository is not empty
	_, name := randomData(t, 10)
	for _, h := range []backend.Handle{
		{Type: backend.ConfigFile},
		{Type: backend.KeyFile, Name: name},
		{Type: backend.PackFile, Name: name},
	} {
		if _, err := be.Stat(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Stat(%v) = %v, want ErrNotExist", h, err)
		}
		called := false
		err := be.Load(t.Context(), h, 0, 0, func(io.Reader) error { called = true; return nil })
		if !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Load(%v) = %v, want ErrNotExist", h, err)
		}
		if called {
			t.Errorf("Load(%v) called fn for a missing file", h)
		}
		if err := be.Remove(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Remove(%v) = %v, want ErrNotExist", h, err)
		}
	}
}

// list returns name → size for every file of type typ.
func list(t testing.TB, be backend.Backend, typ backend.FileType) map[string]int64 {
	t.Helper()
	got := make(map[string]int64)
	err := be.List(t.Context(), typ, func(fi backend.FileInfo) error {
		if _, dup := got[fi.Name]; dup {
			t.Errorf("List(%v) reported %s twice", typ, fi.Name)
		}
		got[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List(%v) = %v, want nil", typ, err)
	}
	return got
}

func testList(t *testing.T, be backend.Backend, s suite) {
	want := make(map[backend.FileType]map[string]int64)
	for _, typ := range backend.AllTypes {
		want[typ] = make(map[string]int64)
	}
	add := func(typ backend.FileType, size int) {
		h, _ := save(t, be, typ, size)
		want[typ][h.Name] = int64(size)
	}
	for i := range 3 {
		add(backend.KeyFile, 100+i)
		add(backend.SnapshotFile, 200+i)
		add(backend.IndexFile, 300+i)
	}
	// Packs with distinct two-digit prefixes land in distinct data/xx
	// directories on backends that use restic's layout.
	prefixes := make(map[string]bool)
	for len(prefixes) < 5 {
		data, name := randomData(t, 400+len(prefixes))
		if prefixes[name[:2]] {
			continue
		}
		prefixes[name[:2]] = true
		h := backend.Handle{Type: backend.PackFile, Name: name}
		if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
			t.Fatalf("Save(%v) = %v, want nil", h, err)
		}
		want[backend.PackFile][name] = int64(len(data))
	}
	save(t, be, backend.ConfigFile, 50) // must not show up in the other types
	for _, typ := range backend.AllTypes {
		if typ == backend.ConfigFile {
			continue // its listed name is backend-specific
		}
		if diff := cmp.Diff(want[typ], list(t, be, typ)); diff != "" {
			t.Errorf("List(%v) mismatch (-want +got):\n%s", typ, diff)
		}
	}
	if got := list(t, be, backend.ConfigFile); len(got) != 1 {
		t.Errorf("List(config) = %v, want one file", got)
	}
}

func testListFnError(t *testing.T, be backend.Backend, s suite) {
	for i := range 3 {
		save(t, be, backend.LockFile, 10+i)
	}
	errStop := errors.New("stop")
	calls := 0
	err := be.List(t.Context(), backend.LockFile, func(backend.FileInfo) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("List(locks) with failing fn = %v after %d calls, want %v after 1 call", err, calls, errStop)
	}
}

func testRemove(t *testing.T, be backend.Backend, s suite) {
	h, _ := save(t, be, backend.PackFile, 100)
	keep, _ := save(t, be, backend.PackFile, 101)
	if !s.removeExisting(t, be, h) {
		return
	}
	if _, err := be.Stat(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Stat(%v) after Remove = %v, want ErrNotExist", h, err)
	}
	if _, err := backend.LoadAll(t.Context(), be, h); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("LoadAll(%v) after Remove = %v, want ErrNotExist", h, err)
	}
	if err := be.Remove(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("second Remove(%v) = %v, want ErrNotExist", h, err)
	}
	if diff := cmp.Diff(map[string]int64{keep.Name: 101}, list(t, be, backend.PackFile)); diff != "" {
		t.Errorf("List(data) after Remove mismatch (-want +got):\n%s", diff)
	}
}

func testConcurrent(t *testing.T, be backend.Backend, s suite) {
	const workers, perWorker = 8, 4
	contents := make([][]byte, workers*perWorker)
	for i := range contents {
		contents[i], _ = randomData(t, 1000+i)
	}
	h := func(i int) backend.Handle {
		return backend.Handle{Type: backend.PackFile, Name: hashName(contents[i])}
	}

	// Each worker saves its own files, then reads every file back, racing
	// with the saves of the others: a file is either missing or complete.
	wg, ctx := errgroup.WithContext(t.Context())
	for w := range workers {
		wg.Go(func() error {
			own := func(i int) bool { return i >= w*perWorker && i < (w+1)*perWorker }
			for i := range contents {
				if !own(i) {
					continue
				}
				if err := be.Save(ctx, h(i), backend.NewByteReader(contents[i])); err != nil {
					t.Errorf("Save(%v) = %v, want nil", h(i), err)
					return err
				}
			}
			for j := range contents {
				i := (j + w*perWorker) % len(contents)
				got, err := backend.LoadAll(ctx, be, h(i))
				if errors.Is(err, backend.ErrNotExist) && !own(i) {
					continue // not saved yet
				}
				if err != nil {
					t.Errorf("LoadAll(%v) = %v, want nil", h(i), err)
					return err
				}
				if !bytes.Equal(got, contents[i]) {
					t.Errorf("LoadAll(%v) = %d bytes (sha256 %.8s), want %d bytes", h(i), len(got), hashName(got), len(contents[i]))
					return errors.New("content mismatch")
				}
			}
			return nil
		})
	}
	if err := wg.Wait(); err != nil {
		return // the failing worker reported it
	}
	if got := len(list(t, be, backend.PackFile)); got != len(contents) {
		t.Errorf("List(data) after concurrent saves = %d files, want %d", got, len(contents))
	}
}

func testLargeFile(t *testing.T, be backend.Backend, s suite) {
	if testing.Short() {
		t.Skip("skipping 20 MiB round-trip in short mode")
	}
	const size = 20 << 20
	h, _ := save(t, be, backend.PackFile, size)
	if fi, err := be.Stat(t.Context(), h); err != nil || fi.Size != size {
		t.Errorf("Stat(%v) = %+v, %v, want size %d, nil", h, fi, err, size)
	}
	hash := sha256.New()
	var n int64
	err := be.Load(t.Context(), h, 0, 0, func(rd io.Reader) error {
		hash.Reset()
		var err error
		n, err = io.Copy(hash, rd)
		return err
	})
	if err != nil {
		t.Fatalf("Load(%v) = %v, want nil", h, err)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != h.Name || n != size {
		t.Errorf("Load(%v) read %d bytes with sha256 %.8s, want %d bytes with sha256 %.8s", h, n, got, size, h.Name)
	}
}

func testSaveRewind(t *testing.T, be backend.Backend, s suite) {
	data, name := randomData(t, 3000)
	other, otherName := data, name
	if s.appendOnly {
		// Each reader saves its own file: nothing can be removed.
		other, otherName = randomData(t, 3000)
	}
	readers := []struct {
		name string
		rd   backend.RewindReader
		data []byte
		hash string
	}{
		{"ByteReader", backend.NewByteReader(data), data, name},
		{"FileReader", backend.NewFileReader(bytes.NewReader(other), int64(len(other))), other, otherName},
	}
	for _, r := range readers {
		data, name := r.data, r.hash
		t.Run(r.name, func(t *testing.T) {
			h := backend.Handle{Type: backend.IndexFile, Name: name}
			t.Cleanup(func() { _ = be.Remove(context.WithoutCancel(t.Context()), h) })

			// A half-read reader, as after a failed attempt, is rewound.
			if _, err := io.ReadFull(r.rd, make([]byte, 100)); err != nil {
				t.Fatalf("ReadFull = %v, want nil", err)
			}
			if err := r.rd.Rewind(); err != nil {
				t.Fatalf("Rewind() = %v, want nil", err)
			}
			if err := be.Save(t.Context(), h, r.rd); err != nil {
				t.Fatalf("Save(%v) = %v, want nil", h, err)
			}
			if got := load(t, be, h); !bytes.Equal(got, data) {
				t.Fatalf("LoadAll(%v) = %d bytes (sha256 %.8s), want %d bytes (sha256 %.8s)",
					h, len(got), hashName(got), len(data), name)
			}

			// Saving the same content again is what concurrent writers of
			// a content-addressed file do.
			if err := r.rd.Rewind(); err != nil {
				t.Fatalf("Rewind() = %v, want nil", err)
			}
			err := be.Save(t.Context(), h, r.rd)
			if be.Properties().HasAtomicReplace {
				if err != nil {
					t.Fatalf("second Save(%v) = %v, want nil (HasAtomicReplace)", h, err)
				}
			} else if err == nil {
				t.Fatalf("second Save(%v) = nil, want error (no HasAtomicReplace)", h)
			}
			if got := load(t, be, h); !bytes.Equal(got, data) {
				t.Errorf("LoadAll(%v) after second Save = %d bytes (sha256 %.8s), want %d bytes (sha256 %.8s)",
					h, len(got), hashName(got), len(data), name)
			}
		})
	}
}

func testSaveCancelled(t *testing.T, be backend.Backend, s suite) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	data, name := randomData(t, 100)
	h := backend.Handle{Type: backend.PackFile, Name: name}
	if err := be.Save(ctx, h, backend.NewByteReader(data)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save(%v) with cancelled context = %v, want context.Canceled", h, err)
	}
	if _, err := be.Stat(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Stat(%v) after cancelled Save = %v, want ErrNotExist", h, err)
	}
}
