package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// snapshotTree returns the root tree ID of a snapshot, via restic.
func snapshotTree(t *testing.T, env []string, sid string) string {
	t.Helper()
	var s struct {
		Tree string `json:"tree"`
	}
	mustJSON(t, restic(t, env, "cat", "snapshot", sid), &s)
	return s.Tree
}

func latestSnapshotID(t *testing.T, env []string) string {
	t.Helper()
	var snaps []struct {
		ID string `json:"id"`
	}
	mustJSON(t, restic(t, env, "snapshots", "--json", "--no-lock"), &snaps)
	if len(snaps) == 0 {
		t.Fatal("no snapshots")
	}
	return snaps[len(snaps)-1].ID
}

// TestResticReadsCairnBackup: restic checks every byte of what cairn wrote
// and restores a tree identical to the source, for both repository
// versions.
func TestResticReadsCairnBackup(t *testing.T) {
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			makeSampleTree(t, src)
			env := repoEnv(filepath.Join(dir, "repo"), "pw")
			cairn(t, env, "init", "--repository-version", version)
			out := cairn(t, env, "backup", "--tag", "t1", "--host", "testhost", src)
			if !strings.Contains(out, "snapshot ") {
				t.Errorf("backup output lacks the snapshot line:\n%s", out)
			}
			restic(t, env, "check", "--read-data")

			dst := filepath.Join(dir, "dst")
			restic(t, env, "restore", "latest", "--target", dst)
			compareTrees(t, src, filepath.Join(dst, src))

			if version == "1" {
				for _, idx := range sortedLines(restic(t, env, "list", "index")) {
					if strings.Contains(restic(t, env, "cat", "index", idx), "uncompressed_length") {
						t.Errorf("index %s of a v1 repository lists compressed blobs", idx[:8])
					}
				}
			}
			snaps := restic(t, env, "snapshots", "--host", "testhost", "--tag", "t1")
			if !strings.Contains(snaps, "1 snapshots") {
				t.Errorf("restic does not find the snapshot by host and tag:\n%s", snaps)
			}
		})
	}
}

// TestDedupAcrossTools: backing up the same tree with the other tool adds
// no blob at all, data or tree, in either order.
func TestDedupAcrossTools(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeSampleTree(t, src)
	// A socket too (restic does not restore sockets, so only here).
	l, err := net.Listen("unix", filepath.Join(src, "socket"))
	must(t, err)
	defer l.Close()
	type tool func(env []string, args ...string)
	// Relative targets keep the snapshot's tree at "src": the directories
	// above it change as tests run and would make every root tree new.
	cairnBackup := func(env []string, args ...string) { cairnIn(t, dir, env, append([]string{"backup"}, args...)...) }
	resticBackup := func(env []string, args ...string) { resticIn(t, dir, env, append([]string{"backup"}, args...)...) }
	for name, order := range map[string][2]tool{
		"cairn then restic": {cairnBackup, resticBackup},
		"restic then cairn": {resticBackup, cairnBackup},
	} {
		t.Run(name, func(t *testing.T) {
			env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
			cairn(t, env, "init")
			order[0](env, "src")
			first := latestSnapshotID(t, env)
			blobs := sortedLines(restic(t, env, "list", "blobs"))
			order[1](env, "--force", "src")
			second := latestSnapshotID(t, env)
			if after := sortedLines(restic(t, env, "list", "blobs")); len(after) != len(blobs) {
				t.Errorf("second tool added %d blobs, want 0", len(after)-len(blobs))
			}
			if a, b := snapshotTree(t, env, first), snapshotTree(t, env, second); a != b {
				t.Errorf("root trees differ: %s then %s", a[:8], b[:8])
				la := strings.Split(restic(t, env, "ls", "--json", first), "\n")
				lb := strings.Split(restic(t, env, "ls", "--json", second), "\n")
				for i := range min(len(la), len(lb)) {
					if la[i] != lb[i] {
						t.Errorf("first difference:\n%s\n%s", la[i], lb[i])
						break
					}
				}
			}
			restic(t, env, "check", "--read-data")
		})
	}
}

// TestUnchangedSecondBackup: the parent snapshot lets a second backup skip
// reading unchanged files and store nothing new.
func TestUnchangedSecondBackup(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeSampleTree(t, src)
	// The repository lives outside the parent of src: writing to it must
	// not change the directories the snapshot records.
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")
	cairnIn(t, dir, env, "backup", "src")
	packs := sortedLines(cairn(t, env, "list", "packs"))
	res := runIn(t, dir, env, cairnBin, "backup", "src")
	if res.code != 0 {
		t.Fatalf("second backup: %v", res)
	}
	if !strings.Contains(res.stdout, "using parent snapshot") || !regexp.MustCompile(`0 new,\s+0 changed,\s+\d+ unmodified`).MatchString(res.stdout) {
		t.Errorf("second backup did not use the parent:\n%v", res)
	}
	if after := sortedLines(cairn(t, env, "list", "packs")); len(after) != len(packs) {
		t.Errorf("unchanged backup wrote %d packs", len(after)-len(packs))
	}
	// A changed file is read again (and its hardlink), the rest is not.
	writeFile(t, src, "small.txt", "changed content\n")
	out := cairnIn(t, dir, env, "backup", "src")
	if !regexp.MustCompile(`0 new,\s+2 changed,\s+11 unmodified`).MatchString(out) {
		t.Errorf("third backup summary:\n%s", out)
	}
	restic(t, env, "check", "--read-data")
}

// TestUnreadableFile: a file the process cannot read is reported, the
// snapshot holds everything else, and the exit code is 3.
func TestUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "ok1", "readable")
	writeFile(t, src, "sub/ok2", "readable too")
	secret := writeFile(t, src, "secret", "unreadable")
	must(t, os.Chmod(secret, 0))
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init")

	name, args := cairnBin, []string{"backup", src}
	if os.Geteuid() == 0 {
		// root reads anything; drop the capabilities that let it.
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatal("running as root needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
		}
		name, args = setpriv, append([]string{"--bounding-set", "-dac_override,-dac_read_search", "--", cairnBin}, args...)
	}
	res := run(t, env, name, args...)
	if res.code != 3 {
		t.Fatalf("exit code = %d, want 3\n%v", res.code, res)
	}
	if !strings.Contains(res.stderr, "secret") || !strings.Contains(res.stderr, "permission denied") {
		t.Errorf("stderr does not name the unreadable file:\n%s", res.stderr)
	}
	ls := cairn(t, env, "ls", "latest")
	for _, want := range []string{"/ok1", "/sub/ok2"} {
		if !strings.Contains(ls, src+want) {
			t.Errorf("snapshot lacks %s:\n%s", want, ls)
		}
	}
	if strings.Contains(ls, "/secret") {
		t.Errorf("snapshot lists the unreadable file:\n%s", ls)
	}
	restic(t, env, "check", "--read-data")
}
