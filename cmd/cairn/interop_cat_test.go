package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCatReadsResticData: every object restic wrote after a real backup
// decodes in cairn to what restic itself prints (v1 and v2, compressed and
// not).
func TestCatReadsResticData(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "text.txt", strings.Repeat("compressible text line\n", 50000))
	random := make([]byte, 3<<20)
	_, _ = rand.Read(random)
	if err := os.WriteFile(filepath.Join(src, "random.bin"), random, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "sub/small", "small")

	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			env := repoEnv(repo, "pw")
			resticInit(t, env, "--repository-version", version)
			restic(t, env, "backup", "--host", "h", src)

			for _, kind := range []string{"snapshots", "index", "packs"} {
				ids := sortedLines(restic(t, env, "list", kind))
				if got := sortedLines(cairn(t, env, "list", kind)); !slices.Equal(got, ids) {
					t.Errorf("cairn list %s = %v, want %v", kind, got, ids)
				}
				for _, fid := range ids {
					switch kind {
					case "snapshots":
						compareJSON(t, cairn(t, env, "cat", "snapshot", fid[:10]), restic(t, env, "cat", "snapshot", fid))
					case "index":
						compareJSON(t, cairn(t, env, "cat", "index", fid), restic(t, env, "cat", "index", fid))
					case "packs":
						want, err := os.ReadFile(filepath.Join(repo, "data", fid[:2], fid))
						if err != nil {
							t.Fatal(err)
						}
						if got := cairn(t, env, "cat", "pack", fid); got != string(want) {
							t.Errorf("cat pack %s: %d bytes differ from the file (%d bytes)", fid[:8], len(got), len(want))
						}
					}
				}
			}

			blobs := sortedLines(restic(t, env, "list", "blobs"))
			if got := sortedLines(cairn(t, env, "list", "blobs")); !slices.Equal(got, blobs) {
				t.Errorf("cairn list blobs = %v, want %v", got, blobs)
			}
			for _, line := range blobs {
				bid := strings.Fields(line)[1]
				if got, want := cairn(t, env, "cat", "blob", bid), restic(t, env, "cat", "blob", bid); got != want {
					t.Errorf("cat blob %s: cairn gives %d bytes, restic %d", bid[:8], len(got), len(want))
				}
			}
		})
	}
}

func compareJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	mustJSON(t, got, &g)
	mustJSON(t, want, &w)
	if !jsonEqual(g, w) {
		t.Errorf("JSON differs:\ngot  %s\nwant %s", got, want)
	}
}
