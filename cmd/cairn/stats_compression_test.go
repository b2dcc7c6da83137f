package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// rawStats is stats --mode raw-data --json as restic 0.19.1 prints it.
type rawStats struct {
	TotalSize              uint64  `json:"total_size"`
	TotalUncompressedSize  uint64  `json:"total_uncompressed_size"`
	CompressionRatio       float64 `json:"compression_ratio"`
	CompressionProgress    float64 `json:"compression_progress"`
	CompressionSpaceSaving float64 `json:"compression_space_saving"`
	TotalBlobCount         uint64  `json:"total_blob_count"`
	SnapshotsCount         int     `json:"snapshots_count"`
}

// TestStatsRawDataCompression: on a repository restic wrote, with
// compressible and incompressible data, raw-data's numbers agree with each
// other and with restic's blob count and size; with a restic that prints
// them (0.17 or later) they are restic's exactly. A version 1 repository
// has no compression numbers.
func TestStatsRawDataCompression(t *testing.T) {
	env := newTestRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "text", strings.Repeat("compress me ", 50000))
	writeFile(t, src, "small", "x")
	restic(t, env, "backup", "-q", src)
	var got rawStats
	mustJSON(t, cairn(t, env, "stats", "--mode", "raw-data", "--json"), &got)
	var old statsNumbers
	mustJSON(t, restic(t, env, "stats", "--mode", "raw-data", "--json"), &old)
	if got.TotalSize != old.TotalSize || got.TotalBlobCount != old.TotalBlobCount || got.SnapshotsCount != 1 {
		t.Errorf("cairn %+v, restic %+v", got, old)
	}
	if got.TotalUncompressedSize <= got.TotalSize*10 || got.CompressionProgress <= 0 || got.CompressionProgress > 100 {
		t.Errorf("compression numbers: %+v", got)
	}
	saving := (1 - float64(got.TotalSize)/float64(got.TotalUncompressedSize)) * 100
	if math.Abs(saving-got.CompressionSpaceSaving) > 1e-9 || got.CompressionRatio <= 1 {
		t.Errorf("space saving %v, want %v; ratio %v", got.CompressionSpaceSaving, saving, got.CompressionRatio)
	}
	if bin := restic019(t); bin != "" {
		var want rawStats
		mustJSON(t, restic19(t, bin, env, "stats", "--mode", "raw-data", "--json"), &want)
		if got != want {
			t.Errorf("cairn %+v\nrestic %+v", got, want)
		}
	}
	v1 := repoEnv(filepath.Join(t.TempDir(), "v1"), "pw")
	cairn(t, v1, "init", "--repository-version", "1")
	cairn(t, v1, "backup", "-q", src)
	out := cairn(t, v1, "stats", "--mode", "raw-data", "--json")
	if strings.Contains(out, "compression") || strings.Contains(out, "uncompressed") {
		t.Errorf("version 1 repository: %s", out)
	}
}

// restic19 runs the restic binary bin, failing the test on an error.
func restic19(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	res := run(t, env, bin, args...)
	if res.code != 0 {
		t.Fatalf("%s %v: %v", bin, args, res)
	}
	return res.stdout
}
