package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPruneBesideBackupsBothTools: four looping cairn backups and two
// looping restic backups (Debian's restic and, where present, restic
// 0.19.1) of changing trees, beside a looping `cairn forget --keep-last 2
// --prune`, on one repository and one cache. No run of either tool may
// fail, no backup may wait for the prune, every snapshot left must restore
// to the tree it was taken of, and both checkers must pass at the end.
func TestPruneBesideBackupsBothTools(t *testing.T) {
	const loopFor = 25 * time.Second
	repo := filepath.Join(t.TempDir(), "repo")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	env := append(repoEnv(repo, "pw"), "CAIRN_CACHE_DIR="+cacheDir, "RESTIC_CACHE_DIR="+cacheDir)
	cairn(t, env, "init")

	type tool struct{ name, bin string }
	tools := []tool{{"cairn", cairnBin}, {"cairn", cairnBin}, {"cairn", cairnBin}, {"cairn", cairnBin}, {"restic", resticBin(t)}}
	if r19 := restic019(t); r19 != "" {
		tools = append(tools, tool{"restic 0.19.1", r19})
	} else {
		tools = append(tools, tool{"restic", resticBin(t)})
	}

	var (
		mu       sync.Mutex
		expected = map[string]string{} // snapshot ID -> digest of its source
		counts   = map[string]int{}
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(loopFor)
	// A cairn backup that read the index while a prune swapped it starts
	// again at once, and says so; that is neither a failure nor a wait.
	restarted := regexp.MustCompile(`^the index changed while it was in use: .*; starting the backup again$`)
	// restic 0.14 gives the short ID.
	summary := regexp.MustCompile(`"snapshot_id":"([0-9a-f]{8,64})"`)
	for i, tl := range tools {
		src := filepath.Join(t.TempDir(), "src")
		tree := newChangingTree(t, src, uint64(i))
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				if tl.name != "cairn" && n > 0 {
					// restic fails when an index file it listed is gone
					// when it reads it; prune waits for a moment when no
					// restic is that young (prune.readerAge), which a
					// back-to-back loop of two restics never gives.
					time.Sleep(5 * time.Second)
				}
				tree.change(n)
				want := contentDigest(t, src)
				res := run(t, env, tl.bin, "backup", "--json", "--host", "h"+strconv.Itoa(i), src)
				bad := res.code != 0
				if tl.name == "cairn" && strings.Contains(res.stderr, "waiting up to") {
					t.Errorf("%s backup %d waited for a lock:\n%s", tl.name, n, res.stderr)
				}
				if strings.Contains(res.stderr, "locked exclusively") {
					t.Errorf("%s backup %d met an exclusive lock:\n%s", tl.name, n, res.stderr)
				}
				if tl.name == "cairn" && !bad && !onlyLines(res.stderr, restarted) {
					t.Errorf("cairn backup %d wrote to stderr:\n%s", n, res.stderr)
				}
				if bad {
					t.Errorf("%s backup %d (host h%d): %v", tl.name, n, i, res)
					continue
				}
				m := summary.FindAllStringSubmatch(res.stdout, -1)
				if len(m) == 0 {
					t.Errorf("%s backup %d: no snapshot_id in its summary:\n%s", tl.name, n, res.stdout)
					continue
				}
				mu.Lock()
				expected[m[len(m)-1][1]] = want
				counts[tl.name]++
				mu.Unlock()
			}
		})
	}

	deletedRE := regexp.MustCompile(`(?m)^(?:deleting (\d+) condemned packs|removing (\d+) old packs)$`)
	prunes, deleted := 0, 0
	wg.Go(func() {
		for time.Now().Before(deadline) {
			res := run(t, env, cairnBin, "forget", "--keep-last", "2", "--prune", "--max-unused", "0", "--grace", "0s")
			prunes++
			if res.code != 0 {
				t.Errorf("forget --prune %d: %v", prunes, res)
				continue
			}
			for _, m := range deletedRE.FindAllStringSubmatch(res.stdout+res.stderr, -1) {
				n, _ := strconv.Atoi(m[1] + m[2])
				deleted += n
			}
		}
	})
	wg.Wait()
	t.Logf("backups %v, %d forget --prune runs, %d packs deleted", counts, prunes, deleted)
	if prunes < 3 || deleted == 0 {
		t.Errorf("%d prunes deleted %d packs, want at least 3 prunes that deleted packs", prunes, deleted)
	}
	if counts["cairn"] == 0 || counts["restic"] == 0 {
		t.Errorf("backups per tool %v, want every tool to have saved snapshots", counts)
	}

	// Nothing runs now: the last pending prune can finish.
	cairn(t, env, "prune", "--grace", "0s")
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(cairn(t, env, "snapshots", "--json")), &snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps) == 0 {
		t.Fatal("no snapshot left")
	}
	for _, s := range snaps {
		want, ok := expected[s.ID]
		if !ok {
			want, ok = expected[s.ID[:8]]
		}
		if !ok {
			t.Errorf("snapshot %s was not made by this test", s.ID)
			continue
		}
		if got, err := restoredDigest(t, env, s.ID); err != nil || got != want {
			t.Errorf("snapshot %s does not restore to the tree it was taken of (%v)", s.ID[:8], err)
		}
	}
	restic(t, env, "check", "--read-data")
	if out := cairn(t, env, "check", "--read-data"); strings.Contains(out, "condemned packs") {
		t.Errorf("cairn check after the last prune still names condemned packs:\n%s", out)
	}
}

// changingTree is a source tree that a backup loop changes between runs:
// a file gets new content, one is added, one removed, and now and then a
// file gets back content it had before (so that backups dedup against
// blobs that forget made unused).
type changingTree struct {
	t    *testing.T
	dir  string
	rng  *rand.Rand
	past [][]byte
}

func newChangingTree(t *testing.T, dir string, seed uint64) *changingTree {
	ct := &changingTree{t: t, dir: dir, rng: rand.New(rand.NewPCG(seed, 0x7e57))}
	for i := range 4 {
		ct.write("f"+strconv.Itoa(i), ct.fresh())
	}
	return ct
}

func (c *changingTree) fresh() []byte {
	b := make([]byte, 32<<10+c.rng.IntN(160<<10))
	for i := range b {
		b[i] = byte(c.rng.Uint32())
	}
	c.past = append(c.past, b)
	return b
}

func (c *changingTree) write(name string, b []byte) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, name), b, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *changingTree) change(n int) {
	names, _ := filepath.Glob(filepath.Join(c.dir, "f*"))
	slices.Sort(names)
	if len(names) > 2 {
		_ = os.Remove(names[c.rng.IntN(len(names))])
	}
	c.write(fmt.Sprintf("f%d-new", n), c.fresh())
	if n%3 == 2 && len(c.past) > 1 {
		c.write(fmt.Sprintf("f%d-old", n), c.past[c.rng.IntN(len(c.past)-1)])
	} else if len(names) > 0 {
		c.write(filepath.Base(names[0]), c.fresh())
	}
}

// restoredDigest restores snapshot sid with cairn and returns the
// contentDigest of the one source tree (a directory "src") in it.
func restoredDigest(t *testing.T, env []string, sid string) (string, error) {
	t.Helper()
	target := filepath.Join(t.TempDir(), "restore")
	if res := run(t, env, cairnBin, "restore", sid, "--target", target); res.code != 0 {
		return "", fmt.Errorf("restore: %v", res)
	}
	var roots []string
	_ = filepath.WalkDir(target, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "src" {
			roots = append(roots, p)
			return filepath.SkipDir
		}
		return err
	})
	if len(roots) != 1 {
		return "", fmt.Errorf("%d source trees restored, want 1", len(roots))
	}
	return contentDigest(t, roots[0]), nil
}

// contentDigest hashes the relative paths and contents of the regular
// files below dir.
func contentDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %d %x\n", rel, len(b), sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
