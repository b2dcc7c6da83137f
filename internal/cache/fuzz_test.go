package cache_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/cache"
)

// FuzzCachedLoad: whatever bytes a cache entry holds on disk (a stale,
// cut or foreign file under the entry's name), a load through the cache
// gives exactly what the backend itself gives for the same range, error
// or bytes, and after a load that succeeded the entry is either gone or
// holds the right bytes. A wrong entry is never served, never kept, and warns nobody.
func FuzzCachedLoad(f *testing.F) {
	good, _ := content(1, 3000)
	f.Add(good, []byte(nil), uint8(0), int64(0), int64(0))
	f.Add(good, good[:1500], uint8(1), int64(0), int64(0))
	f.Add(good, append(append([]byte(nil), good[:2999]...), good[2999]^1), uint8(2), int64(10), int64(100))
	f.Add(good, good, uint8(0), int64(2999), int64(1))
	f.Add(good, []byte("x"), uint8(1), int64(3000), int64(0))
	f.Add(good, []byte(nil), uint8(2), int64(3001), int64(0))
	f.Add([]byte{}, []byte("stale"), uint8(1), int64(0), int64(0))
	f.Add(good, []byte(nil), uint8(0), int64(-1), int64(5))
	f.Add(good, []byte(nil), uint8(0), int64(5), int64(-1))
	f.Add(good, good, uint8(0), int64(1), int64(math.MaxInt64))
	f.Add(good, []byte(nil), uint8(1), int64(math.MaxInt64), int64(math.MaxInt64))
	types := []backend.FileType{backend.PackFile, backend.IndexFile, backend.SnapshotFile}
	f.Fuzz(func(t *testing.T, data, onDisk []byte, typ uint8, offset, length int64) {
		h := backend.Handle{Type: types[int(typ)%len(types)], Name: hashName(data)}
		be := mem.New()
		if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
			t.Fatal(err)
		}
		// t.TempDir, not f.TempDir: fuzz workers are stopped without
		// their cleanups, and would leave f's directory behind.
		c, w := openCache(t, t.TempDir(), cache.Options{})
		p := entryPath(c, h)
		if onDisk != nil {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, onDisk, 0o600); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		load := func(b backend.Backend) ([]byte, error) {
			var got []byte
			err := b.Load(t.Context(), h, int(length), offset, func(rd io.Reader) error {
				var err error
				got, err = io.ReadAll(rd)
				return err
			})
			return got, err
		}
		want, wantErr := load(be)
		got, err := load(c.Wrap(be))
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("load %d+%d through the cache (entry of %d bytes on disk) = %d bytes, %v; the backend gives %d bytes, %v",
				offset, length, len(onDisk), len(got), err, len(want), wantErr)
		}
		if err != nil && backend.IsPermanent(wantErr) != backend.IsPermanent(err) {
			t.Errorf("load %d+%d: the cache's error %v is permanent = %v, the backend's %v is %v",
				offset, length, err, backend.IsPermanent(err), wantErr, backend.IsPermanent(wantErr))
		}
		// A load that fails on its range may not look at the entry; a
		// whole load must, and must get past any wrong one.
		if length, offset = 0, 0; err != nil {
			if got, err := load(c.Wrap(be)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("whole load through the cache = %d bytes, %v; want the file's %d", len(got), err, len(data))
			}
		}
		if b, err := os.ReadFile(p); err == nil && !bytes.Equal(b, data) {
			t.Errorf("after the load the entry holds %d bytes that are not the file's %d", len(b), len(data))
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		w.none(t)
	})
}
