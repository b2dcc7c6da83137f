package main

import (
	"strings"
	"testing"
)

// TestOptionsCommand: `cairn options` prints restic's heading and one
// line an option, and an option it lists is taken by -o.
func TestOptionsCommand(t *testing.T) {
	t.Parallel()
	out := cairn(t, nil, "options")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "All Extended Options:" || len(lines) < 9 {
		t.Fatalf("cairn options =\n%s", out)
	}
	for _, want := range []string{"rest.connections", "s3.region", "sftp.command"} {
		if !strings.Contains(out, "\n  "+want+" ") {
			t.Errorf("cairn options lacks %s:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	env := repoEnv(dir+"/repo", "pw")
	cairn(t, env, "init", "-q")
	// Options of other backends are accepted (and unused) beside a local
	// repository, as restic does; an unknown backend is refused.
	cairn(t, env, "-o", "s3.region=eu-west-1", "-o", "rest.connections=3", "snapshots")
	if res := run(t, env, cairnBin, "-o", "nosuch.x=1", "snapshots"); res.code != 1 || !strings.Contains(res.stderr, "nosuch") {
		t.Errorf("-o nosuch.x=1: %v", res)
	}
}
