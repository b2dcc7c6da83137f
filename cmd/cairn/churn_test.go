package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSourceChangingUnderBackup backs up a tree while another goroutine
// keeps changing part of it: files vanish and come back, shrink, grow,
// turn into directories, and a directory is replaced by a symlink and
// back, mid-walk; a socket sits in it. Each backup exits 0 or 3 (a
// warning for what changed or vanished), never crashes, and saves a
// snapshot in which the part that stayed still is complete and identical;
// restic checks every blob.
func TestSourceChangingUnderBackup(t *testing.T) {
	root := filepath.Join(t.TempDir(), "src")
	stable := filepath.Join(root, "stable")
	makeSampleTree(t, stable)
	churn := filepath.Join(root, "churn")
	for i := range 20 {
		writeRandom(t, filepath.Join(churn, fmt.Sprintf("d%d", i%4), fmt.Sprintf("f%d", i)), 256<<10, uint64(i))
	}
	ln, err := net.Listen("unix", filepath.Join(churn, "sock"))
	must(t, err)
	defer ln.Close()
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(7, 8))
		for {
			select {
			case <-stop:
				return
			default:
			}
			d := filepath.Join(churn, fmt.Sprintf("d%d", rng.IntN(4)))
			f := filepath.Join(d, fmt.Sprintf("f%d", rng.IntN(20)))
			switch rng.IntN(6) {
			case 0: // vanish
				_ = os.RemoveAll(f)
			case 1: // (re)appear, grow
				_ = os.MkdirAll(d, 0o755)
				_ = os.WriteFile(f, make([]byte, rng.IntN(512<<10)), 0o644)
			case 2: // shrink
				_ = os.Truncate(f, int64(rng.IntN(1000)))
			case 3: // a file turns into a directory
				if os.Remove(f) == nil {
					_ = os.MkdirAll(filepath.Join(f, "inner"), 0o755)
				}
			case 4: // a directory turns into a symlink, and back
				moved := d + ".moved"
				if os.Rename(d, moved) == nil {
					_ = os.Symlink(moved, d)
					time.Sleep(time.Millisecond)
					_ = os.Remove(d)
					_ = os.Rename(moved, d)
				}
			case 5:
				_ = os.RemoveAll(f)
			}
			time.Sleep(200 * time.Microsecond)
		}
	})
	for i := range 3 {
		res := run(t, env, cairnBin, "backup", root)
		if res.code != 0 && res.code != 3 {
			close(stop)
			wg.Wait()
			t.Fatalf("backup %d of a changing tree: %v", i, res)
		}
		if res.code == 3 && !strings.Contains(res.stderr, "churn") {
			t.Errorf("backup %d: exit 3 without naming a changing path:\n%s", i, res.stderr)
		}
	}
	close(stop)
	wg.Wait()
	restic(t, env, "check", "--read-data")
	for _, sid := range snapshotIDs(t, env) {
		dst := t.TempDir()
		res := run(t, env, cairnBin, "restore", sid, "--target", dst, "--include", stable)
		if res.code != 0 {
			t.Fatalf("restore of the stable part of %s: %v", sid[:8], res)
		}
		compareTrees(t, stable, filepath.Join(dst, stable))
	}
}
