package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStatsMatchesRestic: every counting mode gives restic's numbers,
// exactly, for all snapshots, chosen ones and filtered ones. (Debian's
// restic 0.14 is compared by the numbers both print; the text and the keys
// 0.19.1 adds are compared with its recorded output in TestGoldenText and
// TestGoldenJSON.) The history has hardlinks, duplicate files and directories,
// multi-blob files and snapshots that share trees.
func TestStatsMatchesRestic(t *testing.T) {
	h := makeHistory(t)
	for _, mode := range []string{"restore-size", "files-by-contents", "raw-data", "blobs-per-file"} {
		t.Run(mode, func(t *testing.T) {
			for _, args := range [][]string{
				{"--json"},
				{"--json", h.ids[0][:8], "latest", h.ids[0]},
				{"--json", "--host", "h1"},
			} {
				args = append([]string{"--no-lock", "stats", "--mode", mode}, args...)
				var got, want statsNumbers
				mustJSON(t, cairn(t, h.env, args...), &got)
				mustJSON(t, restic(t, h.env, args...), &want)
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

// statsNumbers are the stats keys restic 0.14 and 0.19.1 share.
type statsNumbers struct {
	TotalSize      uint64 `json:"total_size"`
	TotalFileCount uint64 `json:"total_file_count"`
	TotalBlobCount uint64 `json:"total_blob_count"`
	SnapshotsCount int    `json:"snapshots_count"`
}

// TestStatsErrors covers an unknown mode and an unknown snapshot (which
// restic 0.19.1 reports and leaves out, exit 0).
func TestStatsErrors(t *testing.T) {
	env := newTestRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "f", "x")
	restic(t, env, "backup", "-q", src)
	if res := run(t, env, cairnBin, "stats", "--mode", "bogus"); res.code != 1 {
		t.Errorf("stats --mode bogus: %v", res)
	}
	res := run(t, env, cairnBin, "stats", "deadbeef")
	if res.code != 0 || !strings.HasPrefix(res.stderr, `Ignoring "deadbeef": `) || !strings.Contains(res.stdout, "Snapshots processed:  0") {
		t.Errorf("stats deadbeef: %v", res)
	}
	// With locking (the default) too.
	var got, want statsNumbers
	mustJSON(t, cairn(t, env, "stats", "--mode", "raw-data", "--json"), &got)
	mustJSON(t, restic(t, env, "stats", "--mode", "raw-data", "--json"), &want)
	if got != want || got.TotalBlobCount == 0 {
		t.Errorf("stats --mode raw-data = %+v, restic: %+v", got, want)
	}
}
