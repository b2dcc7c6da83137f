package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEarlyBackupBesideResticPrune: cairn backups read the repository and
// their files while their lock is still being taken (stackSpec.early);
// here restic's `forget --prune` loops beside them, so restic's exclusive
// locks come and go during those windows. Every cairn backup must succeed
// (it waits for restic's lock, or restic gives up on seeing cairn's), and
// the repository must check clean with restic --read-data, with every
// snapshot left restoring what was backed up.
func TestEarlyBackupBesideResticPrune(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(t.TempDir(), "repo")
	env := append(repoEnv(repo, "pw"), "CAIRN_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
	renv := append(repoEnv(repo, "pw"), "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "rcache"))
	resticInit(t, renv, "--repository-version", "2")
	for f := range 4 {
		writeRandom(t, filepath.Join(dir, "src", "f"+strconv.Itoa(f)), 200<<10, uint64(f))
	}

	const rounds = 8
	var backups, prunes, prunesOK atomic.Int64
	done := make(chan struct{})
	var pw sync.WaitGroup
	pw.Go(func() {
		repeatUntil(done, func() {
			res := run(t, renv, resticBin(t), "forget", "--keep-last", "2", "--prune")
			prunes.Add(1)
			switch {
			case res.code == 0:
				prunesOK.Add(1)
			case !strings.Contains(res.stderr, "locked"):
				t.Errorf("restic forget --prune failed, not for a lock: %v", res)
			}
			time.Sleep(300 * time.Millisecond) // room for cairn's backups
		})
	})
	src := filepath.Join(dir, "src")
	for r := range rounds {
		content := fmt.Sprintf("round %d", r)
		writeFile(t, src, "round", content)
		res := run(t, env, cairnBin, "backup", "--retry-lock", "2m", "--host", "h", src)
		backups.Add(1)
		if res.code != 0 {
			t.Errorf("backup %d: %v", r, res)
		}
		time.Sleep(time.Duration(50+r*25) * time.Millisecond) // let restic's prune in
	}
	close(done)
	pw.Wait()
	t.Logf("%d cairn backups; restic forget --prune: %d runs, %d succeeded", backups.Load(), prunes.Load(), prunesOK.Load())
	if prunesOK.Load() == 0 {
		t.Error("no restic prune got through: the test did not interleave them")
	}
	restic(t, renv, "check", "--read-data")
	// The newest snapshot restores the last round.
	out := t.TempDir()
	cairn(t, env, "restore", "latest", "--target", out)
	got, err := os.ReadFile(filepath.Join(out, src, "round"))
	if err != nil || string(got) != fmt.Sprintf("round %d", rounds-1) {
		t.Errorf("latest snapshot has %q (%v)", got, err)
	}
}
