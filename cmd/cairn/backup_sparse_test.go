package main

import (
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHugeSparseFile: a 5 GB sparse file backs up quickly (its zero runs
// dedup to one blob), restic checks it, and restic restores it identical.
func TestHugeSparseFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	must(t, os.MkdirAll(src, 0o755))
	p := filepath.Join(src, "disk.img")
	f, err := os.Create(p)
	must(t, err)
	const size = 5 << 30
	for _, off := range []int64{0, 1 << 30, size - 6} {
		_, err := f.WriteAt([]byte("marker"), off)
		must(t, err)
	}
	must(t, f.Close())

	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")
	out := cairn(t, env, "backup", src)
	if !strings.Contains(out, "5.000 GiB") {
		t.Errorf("backup summary does not show 5 GiB processed:\n%s", out)
	}
	restic(t, env, "check", "--read-data")
	if n := len(sortedLines(restic(t, env, "list", "blobs"))); n > 20 {
		t.Errorf("a sparse file made %d blobs; zero runs should dedup", n)
	}
	// restic 0.14 restores without --sparse; stream the file instead.
	cmd := exec.CommandContext(t.Context(), resticBin(t), "dump", "latest", p)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	h := sha256.New()
	n, err := io.Copy(h, stdout)
	must(t, err)
	must(t, cmd.Wait())
	if n != size || [32]byte(h.Sum(nil)) != sumFile(t, p) {
		t.Errorf("restic dump gives %d bytes that differ from the source", n)
	}
}
