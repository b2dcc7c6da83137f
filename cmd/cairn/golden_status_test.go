package main

import (
	"path/filepath"
	"testing"
)

// TestGoldenStatus records and compares the status lines of backup and
// restore: a backup of 96 MiB of random data takes long enough, at
// restic's highest rate of 60 status lines a second, for both tools to
// print several.
func TestGoldenStatus(t *testing.T) {
	bigTree := func(t *testing.T, f *goldenFixture) {
		writeRandom(t, filepath.Join(f.src, "data", "random.bin"), 96<<20, 7)
		f.env = append(f.env, "RESTIC_PROGRESS_FPS=60")
	}
	runGolden(t, []goldenCase{
		{name: "backup_status", status: true, prepare: bigTree, args: func(*goldenFixture) []string {
			return []string{"backup", "--tag", "big", "."}
		}},
		{name: "restore_status", status: true, prepare: func(t *testing.T, f *goldenFixture) {
			bigTree(t, f)
			f.must(t, "backup", "--tag", "big", ".")
		}, args: func(f *goldenFixture) []string {
			return []string{"restore", "latest", "--tag", "big", "--target", f.target}
		}},
	})
}
