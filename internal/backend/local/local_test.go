package local_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/local"
)

func newBackend(t testing.TB) *local.Backend {
	t.Helper()
	be, err := local.Create(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatalf("Create() = %v, want nil", err)
	}
	return be
}

func TestBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return newBackend(t) })
}

func BenchmarkBackend(b *testing.B) {
	backendtest.Bench(b, func(b *testing.B) backend.Backend { return newBackend(b) })
}

// savePack stores data as a pack named by its hash.
func savePack(t *testing.T, be *local.Backend, data []byte) backend.Handle {
	t.Helper()
	sum := sha256.Sum256(data)
	h := backend.Handle{Type: backend.PackFile, Name: hex.EncodeToString(sum[:])}
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save(%v) = %v, want nil", h, err)
	}
	return h
}

func TestSaveLayout(t *testing.T) {
	be := newBackend(t)
	h := savePack(t, be, []byte("pack content"))

	path := filepath.Join(be.Path(), "data", h.Name[:2], h.Name)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat(%s) = %v, want nil", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o222 != 0 {
		t.Errorf("mode of %s = %v, want no write bits", path, perm)
	}

	// A failed save (the reader is shorter than it claims) cleans up too.
	short := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	rd := backend.NewFileReader(strings.NewReader("short"), 100)
	if err := be.Save(t.Context(), short, rd); err == nil {
		t.Errorf("Save(%v) with a short reader = nil, want error", short)
	}

	err = filepath.WalkDir(be.Path(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "-tmp-") {
			t.Errorf("temporary file %s left after saves", p)
		}
		return err
	})
	if err != nil {
		t.Fatalf("WalkDir(%s) = %v, want nil", be.Path(), err)
	}
}

func TestListSkipsTempFiles(t *testing.T) {
	be := newBackend(t)
	pack := savePack(t, be, []byte("pack"))
	stray := []string{
		filepath.Join(be.Path(), "data", pack.Name[:2], pack.Name+"-tmp-abcd"),
		filepath.Join(be.Path(), "index", pack.Name+"-tmp-abcd"),
	}
	for _, p := range stray {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		typ  backend.FileType
		want map[string]int64
	}{
		{backend.PackFile, map[string]int64{pack.Name: 4}},
		{backend.IndexFile, map[string]int64{}},
	} {
		got := make(map[string]int64)
		err := be.List(t.Context(), tt.typ, func(fi backend.FileInfo) error {
			got[fi.Name] = fi.Size
			return nil
		})
		if err != nil {
			t.Fatalf("List(%v) = %v, want nil", tt.typ, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("List(%v) mismatch (-want +got):\n%s", tt.typ, diff)
		}
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	be := newBackend(t)
	h := backend.Handle{Type: backend.ConfigFile}
	if err := be.Save(t.Context(), h, backend.NewByteReader([]byte("config"))); err != nil {
		t.Fatalf("Save(%v) = %v, want nil", h, err)
	}
	if _, err := local.Create(be.Path()); err == nil {
		t.Errorf("Create(%s) over an existing repository = nil, want error", be.Path())
	}
}

func TestSaveRecreatesDir(t *testing.T) {
	be := newBackend(t)
	data := []byte("pack in a deleted directory")
	sum := sha256.Sum256(data)
	name := hex.EncodeToString(sum[:])
	dir := filepath.Join(be.Path(), "data", name[:2])
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	h := savePack(t, be, data)
	got, err := backend.LoadAll(t.Context(), be, h)
	if err != nil || string(got) != string(data) {
		t.Errorf("LoadAll(%v) = %q, %v, want %q, nil", h, got, err, data)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Errorf("Stat(%s) = %v, want nil", filepath.Join(dir, name), err)
	}
}
