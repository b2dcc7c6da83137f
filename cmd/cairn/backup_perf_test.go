package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
)

// TestBackupParentFromRestic: after a backup by restic 0.19.1, an
// unchanged cairn backup (which takes the parent's trees where they encode
// to the same bytes) has the root a backup without parent has, which is
// restic's own; the next unchanged backup keeps it, and restic reads every
// byte.
func TestBackupParentFromRestic(t *testing.T) {
	dir := t.TempDir()
	makeSampleTree(t, filepath.Join(dir, "src"))
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	resticInit(t, env)
	// A relative target keeps the directories above (TMPDIR, which others
	// change) out of the snapshot.
	resticIn(t, dir, env, "backup", "-q", "--host", "h", "src")
	resticRoot := snapshotTree(t, env, latestSnapshotID(t, env))

	cairnIn(t, dir, env, "backup", "-q", "--host", "h", "src")
	withParent := snapshotTree(t, env, latestSnapshotID(t, env))
	cairnIn(t, dir, env, "backup", "-q", "--host", "h", "--force", "src")
	full := snapshotTree(t, env, latestSnapshotID(t, env))
	if withParent != full || full != resticRoot {
		t.Errorf("root with restic's parent %.8s, without parent %.8s, restic's %.8s", withParent, full, resticRoot)
	}
	cairnIn(t, dir, env, "backup", "-q", "--host", "h", "src")
	if again := snapshotTree(t, env, latestSnapshotID(t, env)); again != full {
		t.Errorf("unchanged backup with cairn's parent: root %.8s, want %.8s", again, full)
	}
	restic(t, env, "check", "--read-data")
}

// TestBackupScanShown: the scan runs only when its totals show: in the
// status lines (on a terminal, under --json, with a progress rate set) or
// in the "scan finished" line of -v; never under --quiet.
func TestBackupScanShown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		quiet bool
		json  bool
		v     int
		fps   string
		shown bool
	}{
		{"plain, no terminal", false, false, 0, "", false},
		{"quiet", true, false, 0, "", false},
		{"quiet json", true, true, 0, "", false},
		{"quiet with a rate", true, false, 0, "5", false},
		{"json", false, true, 0, "", true},
		{"verbose", false, false, 1, "", true},
		{"json verbose", false, true, 2, "", true},
		{"plain with a rate", false, false, 0, "5", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("RESTIC_PROGRESS_FPS", tc.fps)
			t.Setenv("CAIRN_PROGRESS_FPS", "")
			cmd := &cobra.Command{}
			cmd.SetOut(&bytes.Buffer{})
			g := &globalOptions{Quiet: tc.quiet, JSON: tc.json, Verbose: tc.v}
			if got := scanShown(cmd, g); got != tc.shown {
				t.Errorf("scanShown() = %v, want %v", got, tc.shown)
			}
		})
	}
}

// TestBackupQuietScanFinished: what the scan shows stays as restic's:
// "scan finished" with -v, and the scan_finished line with --json -v,
// while -q (no totals anywhere) backs up the same snapshot.
func TestBackupQuietScanFinished(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeSampleTree(t, src)
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init")
	if out := cairn(t, env, "backup", "-v", src); !bytes.Contains([]byte(out), []byte("scan finished in ")) {
		t.Errorf("backup -v lacks the scan line:\n%s", out)
	}
	if out := cairn(t, env, "backup", "--json", "-v", src); !bytes.Contains([]byte(out), []byte(`"action":"scan_finished"`)) {
		t.Errorf("backup --json -v lacks scan_finished:\n%s", out)
	}
	if out := cairn(t, env, "backup", "-q", src); out != "" {
		t.Errorf("backup -q printed %q", out)
	}
}
