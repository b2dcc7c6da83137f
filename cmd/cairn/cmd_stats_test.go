package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStatsMatchesRestic: every counting mode gives restic's numbers,
// exactly, and the same text, for all snapshots, chosen ones and filtered
// ones. The history has hardlinks, duplicate files and directories,
// multi-blob files and snapshots that share trees.
func TestStatsMatchesRestic(t *testing.T) {
	h := makeHistory(t)
	for _, mode := range []string{"restore-size", "files-by-contents", "raw-data", "blobs-per-file"} {
		t.Run(mode, func(t *testing.T) {
			for _, args := range [][]string{
				{"--json"},
				{"--json", h.ids[0][:8], "latest", h.ids[0]},
				{"--json", "--host", "h1"},
				{},
			} {
				args = append([]string{"--no-lock", "stats", "--mode", mode}, args...)
				got, want := cairn(t, h.env, args...), restic(t, h.env, args...)
				if got != want {
					t.Errorf("%v (-restic +cairn):\n%s", args, cmp.Diff(want, got))
				}
			}
		})
	}
	// Not vacuous: the hardlink counts once in restore-size.
	var st struct {
		TotalSize      uint64 `json:"total_size"`
		TotalFileCount uint64 `json:"total_file_count"`
		SnapshotsCount int    `json:"snapshots_count"`
	}
	mustJSON(t, cairn(t, h.env, "stats", "--json", h.ids[0]), &st)
	if st.SnapshotsCount != 1 || st.TotalFileCount < 20 || st.TotalSize < 2<<20 {
		t.Errorf("stats of the first snapshot: %+v", st)
	}
}

// TestStatsErrors covers an unknown mode and an unknown snapshot.
func TestStatsErrors(t *testing.T) {
	env := newTestRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "f", "x")
	restic(t, env, "backup", "-q", src)
	for _, args := range [][]string{{"--mode", "bogus"}, {"deadbeef"}} {
		res := run(t, env, cairnBin, append([]string{"stats"}, args...)...)
		if res.code == 0 {
			t.Errorf("stats %v succeeded:\n%v", args, res)
		}
	}
	// With locking (the default) too.
	got, want := cairn(t, env, "stats", "--mode", "raw-data"), restic(t, env, "stats", "--mode", "raw-data")
	if got != want || !strings.Contains(got, "Total Blob Count:") {
		t.Errorf("stats --mode raw-data = \n%s\nrestic:\n%s", got, want)
	}
}
