package cache_test

import (
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/internal/cache"
)

// TestDefaultBase: the cache variables first, then restic's default
// directory, so that restic and cairn share one cache unasked.
func TestDefaultBase(t *testing.T) {
	home := t.TempDir()
	cases := []struct {
		cairn, restic, xdg, want string
	}{
		{"/c", "/r", "/x", "/c"},
		{"", "/r", "/x", "/r"},
		{"", "", "/x", "/x/restic"},
		{"", "", "", filepath.Join(home, ".cache", "restic")},
	}
	for _, c := range cases {
		t.Setenv("HOME", home)
		t.Setenv("CAIRN_CACHE_DIR", c.cairn)
		t.Setenv("RESTIC_CACHE_DIR", c.restic)
		t.Setenv("XDG_CACHE_HOME", c.xdg)
		if got, err := cache.DefaultBase(); err != nil || got != c.want {
			t.Errorf("DefaultBase() with %+v = %q, %v; want %q", c, got, err, c.want)
		}
	}
}
