package main

import "testing"

// TestGoldenJSON covers init, version, ls, snapshots --group-by, key list,
// tag and stats: cairn's --json lines against restic 0.19.1's recorded
// ones (testdata/golden).
func TestGoldenJSON(t *testing.T) {
	args := func(a ...string) func(*goldenFixture) []string {
		return func(*goldenFixture) []string { return a }
	}
	runGolden(t, []goldenCase{
		{name: "init", emptyRepo: true, args: func(f *goldenFixture) []string {
			return []string{"-r", f.repo + "-new", "init"}
		}},
		{name: "version", args: args("version")},
		{name: "ls", args: args("ls", "latest")},
		{name: "ls_dir", args: args("ls", "latest", "/docs")},
		{name: "ls_dir_recursive_sorted", args: args("ls", "latest", "/", "--recursive", "--sort", "size", "--reverse")},
		{name: "ls_ncdu_with_json", stderr: true, code: 1, args: args("ls", "latest", "--ncdu")},
		{name: "snapshots_group_by", args: args("snapshots", "--group-by", "host,tags")},
		{name: "snapshots_latest", args: args("snapshots", "--latest", "1")},
		{name: "key_list", args: args("key", "list")},
		{name: "tag_add", args: args("tag", "--add", "extra")},
		{name: "tag_nothing_changed", args: args("tag", "--add", "golden")},
		{name: "stats", args: args("stats")},
		{name: "stats_files_by_contents", args: args("stats", "--mode", "files-by-contents")},
		{name: "stats_raw_data", args: args("stats", "--mode", "raw-data")},
		{name: "stats_blobs_per_file", args: args("stats", "--mode", "blobs-per-file")},
		{name: "stats_latest_empty", emptyRepo: true, args: args("stats", "latest")},
		{name: "stats_raw_data_empty", emptyRepo: true, args: args("stats", "--mode", "raw-data")},
	})
}
