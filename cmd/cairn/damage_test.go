package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestDamagedPackRestoreAndRepair flips one byte in one data pack. check
// names the pack; restore writes every undamaged file identically and
// names the damaged ones (nothing damaged passes as good); repair packs
// and repair snapshots --forget then leave a repository that both
// checkers accept and that restores without errors.
func TestDamagedPackRestoreAndRepair(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for i := range 5 {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%d", i)), 5<<20, uint64(40+i))
	}
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", "-q", "--pack-size", "4", src)

	packs, _ := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	if len(packs) < 3 {
		t.Fatalf("%d packs, want several", len(packs))
	}
	sort.Slice(packs, func(i, j int) bool { return size(t, packs[i]) > size(t, packs[j]) })
	damaged := packs[0] // a big one: data, not a tree pack
	damage(t, damaged, func(b []byte) []byte { b[len(b)/3] ^= 0x10; return b })
	pid := filepath.Base(damaged)

	res := run(t, env, cairnBin, "check", "--read-data")
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, pid[:8]) {
		t.Fatalf("check of a damaged pack: %v", res)
	}

	dst := t.TempDir()
	res = run(t, env, cairnBin, "restore", "latest", "--target", dst)
	if res.code == 0 {
		t.Fatalf("restore with a damaged pack succeeded:\n%v", res)
	}
	bad := 0
	for i := range 5 {
		name := fmt.Sprintf("f%d", i)
		want, _ := os.ReadFile(filepath.Join(src, name))
		got, err := os.ReadFile(filepath.Join(dst, src, name))
		named := strings.Contains(res.stderr, filepath.Join(src, name))
		switch {
		case named:
			bad++
		case err != nil || !bytes.Equal(got, want):
			t.Errorf("%s: restored differently (%v) but not reported as damaged:\n%s", name, err, res.stderr)
		}
	}
	if bad == 0 {
		t.Errorf("no file reported damaged:\n%s", res.stderr)
	}

	cairn(t, env, "repair", "packs", pid)
	cairn(t, env, "repair", "snapshots", "--forget")
	cairn(t, env, "check", "--read-data")
	restic(t, env, "check", "--read-data")
	dst2 := t.TempDir()
	cairn(t, env, "restore", "latest", "--target", dst2)
	for i := range 5 {
		name := fmt.Sprintf("f%d", i)
		got, err := os.ReadFile(filepath.Join(dst2, src, name))
		if err != nil {
			continue // cut from the snapshot by repair
		}
		want, _ := os.ReadFile(filepath.Join(src, name))
		if !bytes.Equal(got, want) {
			t.Errorf("%s restored after repair differs from the source (repair kept a damaged file?)", name)
		}
	}
}

func size(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	must(t, err)
	return fi.Size()
}
