package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBackupsBesidePrune: four processes back up in a loop while a fifth
// runs `forget --prune` in a loop, on one repository and one cache. restic
// fails backups and prunes here (lock conflicts); cairn's prune runs
// beside them (two phases), so every run succeeds, and the repository
// checks clean afterwards.
func TestBackupsBesidePrune(t *testing.T) {
	const writers, rounds = 4, 6
	dir := t.TempDir()
	repo := filepath.Join(t.TempDir(), "repo")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	env := append(repoEnv(repo, "pw"), "CAIRN_CACHE_DIR="+cacheDir)
	cairn(t, env, "init")
	for w := range writers {
		for f := range 5 {
			writeRandom(t, filepath.Join(dir, "w"+strconv.Itoa(w), "f"+strconv.Itoa(f)), 256<<10, uint64(w*10+f))
		}
	}

	var failures, backups, prunes atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			src := filepath.Join(dir, "w"+strconv.Itoa(w))
			for r := range rounds {
				writeFile(t, src, "round", fmt.Sprintf("writer %d round %d", w, r))
				res := run(t, env, cairnBin, "backup", "--host", "h"+strconv.Itoa(w), src)
				backups.Add(1)
				if res.code != 0 {
					failures.Add(1)
					t.Errorf("backup %d/%d: %v", w, r, res)
				}
			}
		})
	}
	var pw sync.WaitGroup
	pw.Go(func() {
		repeatUntil(done, func() {
			res := run(t, env, cairnBin, "forget", "--keep-last", "2", "--prune")
			prunes.Add(1)
			if res.code != 0 {
				failures.Add(1)
				t.Errorf("forget --prune: %v", res)
			}
		})
	})
	wg.Wait()
	close(done)
	pw.Wait()
	t.Logf("%d backups and %d forget --prune runs, %d failed", backups.Load(), prunes.Load(), failures.Load())
	if prunes.Load() == 0 {
		t.Error("no prune ran")
	}
	// The last prunes' second phase waits for the backups that ran beside
	// them (their snapshots may use condemned packs until it indexes them
	// again, see internal/prune); nothing runs now, so it can finish.
	cairn(t, env, "prune", "--finish", "--grace", "0s")
	restic(t, repoEnv(repo, "pw"), "check", "--read-data")
}

// repeatUntil calls fn again and again until done is closed.
func repeatUntil(done <-chan struct{}, fn func()) {
	for {
		select {
		case <-done:
			return
		default:
		}
		fn()
	}
}
