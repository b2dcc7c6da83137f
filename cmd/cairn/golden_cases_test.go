package main

import "testing"

// TestGoldenBasics covers the commands whose JSON cairn already had. Other
// files add their cases with their own TestGolden* functions.
func TestGoldenBasics(t *testing.T) {
	runGolden(t, []goldenCase{
		{name: "snapshots", args: func(*goldenFixture) []string { return []string{"snapshots"} }},
		{name: "exit_error_no_repo", stderr: true, code: 10, args: func(f *goldenFixture) []string {
			return []string{"-r", f.repo + "-missing", "snapshots"}
		}},
	})
}
