package cache_test

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/internal/cache"
)

// TestRemoveLeftovers: directories a killed RemoveDir left under their
// ".removing-" name go, whoever else removes them at the same time;
// repository directories and other names stay.
func TestRemoveLeftovers(t *testing.T) {
	for round := range 5 {
		base := t.TempDir()
		ids := makeRepoDirs(t, base, 6)
		// The first four are what RemoveDir renames before deleting.
		for _, id := range ids[:4] {
			if err := os.Rename(filepath.Join(base, id), filepath.Join(base, id+".removing-1733346000123456789")); err != nil {
				t.Fatal(err)
			}
		}
		others := []string{"not-a-repo.removing-1", ids[4] + ".removing-x", "CACHEDIR.TAG"}
		for _, o := range others {
			if err := os.Mkdir(filepath.Join(base, o), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		start := make(chan struct{})
		for range 4 { // racing cleaners: nobody fails, each leftover counted once or more
			wg.Go(func() {
				<-start
				n, err := cache.RemoveLeftovers(base)
				if err != nil {
					t.Errorf("round %d: RemoveLeftovers = %v", round, err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if total < 4 {
			t.Errorf("round %d: removed %d in all, want at least 4", round, total)
		}
		entries, _ := os.ReadDir(base)
		var left []string
		for _, e := range entries {
			left = append(left, e.Name())
		}
		want := append([]string{ids[4], ids[5]}, others...)
		slices.Sort(want)
		if !slices.Equal(left, want) {
			t.Fatalf("round %d: left in base %q, want %q", round, left, want)
		}
	}
	if n, err := cache.RemoveLeftovers(filepath.Join(t.TempDir(), "missing")); n != 0 || err != nil {
		t.Errorf("RemoveLeftovers(missing base) = %d, %v, want 0, nil", n, err)
	}
}
