package local_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend/local"
)

// TestTempSweeper checks that only old temporary files are reported, that
// they are removed, and that other names are refused.
func TestTempSweeper(t *testing.T) {
	dir := t.TempDir()
	b, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	files := map[string]bool{ // relative path: stale
		"data/pack-tmp-123":      true,
		"data/ab/abcd-tmp-456":   true,
		"index/ef01-tmp-789":     true,
		"snapshots/young-tmp-1":  false,
		"data/ab/abcdef0123456":  false,
		"keys/should-not-be-tmp": false,
	}
	for name, stale := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if stale || name == "data/ab/abcdef0123456" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := b.StaleTempFiles(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name, stale := range files {
		if stale {
			want = append(want, filepath.FromSlash(name))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("StaleTempFiles = %q, want %q", got, want)
	}
	if err := b.RemoveTempFiles(t.Context(), append(got, got[0])); err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s still there after RemoveTempFiles: %v", name, err)
		}
	}
	for _, bad := range []string{"data/ab/abcdef0123456", "../x-tmp-1", "/etc/passwd"} {
		if err := b.RemoveTempFiles(t.Context(), []string{bad}); err == nil {
			t.Errorf("RemoveTempFiles(%q) succeeded, want refusal", bad)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data/ab/abcdef0123456")); err != nil {
		t.Errorf("pack removed: %v", err)
	}
}
