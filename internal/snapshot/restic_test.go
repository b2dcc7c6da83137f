package snapshot_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestResticSnapshots decodes snapshots written by the restic binary,
// checks that encoding them again gives restic's bytes, and that
// FindParent picks the parent restic picked. It is skipped without restic,
// unless CI=true.
func TestResticSnapshots(t *testing.T) {
	exe := testservers.Restic(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, d, "f"), []byte(d), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	restic := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), exe, args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(),
			"RESTIC_REPOSITORY="+filepath.Join(tmp, "repo"),
			"RESTIC_PASSWORD=cairn-test",
			"RESTIC_CACHE_DIR="+filepath.Join(tmp, "cache"),
		)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return out
	}
	restic("init")
	// Paths in reverse order: restic keeps the order given.
	restic("backup", "--quiet", "--host", "h<&>", "--tag", "t2,t1", "--tag", "z", "--exclude", "*.tmp", "b", "a")
	first := restic("list", "snapshots")
	restic("backup", "--quiet", "--host", "h<&>", "a")

	var snaps []*snapshot.Snapshot
	for _, line := range strings.Fields(string(restic("list", "snapshots"))) {
		fid, err := id.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		// cat prints the decoded snapshot indented; compacted, it is what
		// restic stores.
		var stored bytes.Buffer
		if err := json.Compact(&stored, restic("cat", "snapshot", line)); err != nil {
			t.Fatal(err)
		}
		s, err := snapshot.Decode(stored.Bytes(), fid)
		if err != nil {
			t.Fatalf("Decode(%s): %v", stored.Bytes(), err)
		}
		enc, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, stored.Bytes()) {
			t.Errorf("Encode(Decode(restic's snapshot)) differs:\n got %s\nwant %s", enc, stored.Bytes())
		}
		snaps = append(snaps, s)
	}
	if len(snaps) != 2 {
		t.Fatalf("restic wrote %d snapshots, want 2", len(snaps))
	}
	slices.SortFunc(snaps, func(a, b *snapshot.Snapshot) int { return a.Time.Compare(b.Time) })
	one, two := snaps[0], snaps[1]
	if one.ID.String() != strings.TrimSpace(string(first)) {
		t.Fatalf("snapshot order mixed up")
	}
	if want := []string{filepath.Join(src, "b"), filepath.Join(src, "a")}; !cmp.Equal(one.Paths, want) {
		t.Errorf("paths = %q, want %q", one.Paths, want)
	}
	if one.Hostname != "h<&>" || !cmp.Equal(one.Tags, []string{"t2", "t1", "z"}) || !cmp.Equal(one.Excludes, []string{"*.tmp"}) {
		t.Errorf("first snapshot = %+v", one)
	}
	// restic 0.14 took the first snapshot, whose paths are a superset, as
	// parent of the second.
	if two.Parent == nil || *two.Parent != one.ID {
		t.Fatalf("restic chose parent %v, want %v", two.Parent, one.ID.Str())
	}
	if p := snapshot.FindParent(snaps[:1], two.Hostname, two.Paths, two.Time); p != one {
		t.Errorf("FindParent = %v, want restic's choice %v", p, one.ID.Str())
	}
}
