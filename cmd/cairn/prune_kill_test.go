package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPruneKilledAtEachStep kills a two-phase prune with SIGKILL when it
// announces each step of both phases (without other lock holders, one run
// goes through both), right away and a little later. After each kill both
// checkers pass, the snapshots restore, and the next prune finishes the
// work: no pending record, no pack outside the index, restic check
// --read-data clean.
func TestPruneKilledAtEachStep(t *testing.T) {
	base := filepath.Join(t.TempDir(), "base")
	env := repoEnv(base, "pw")
	cairn(t, env, "init")
	src := filepath.Join(t.TempDir(), "src")
	tree := newChangingTree(t, src, 99)
	digests := map[string]string{}
	summary := regexp.MustCompile(`"snapshot_id":"([0-9a-f]{64})"`)
	for n := range 5 {
		tree.change(n)
		want := contentDigest(t, src)
		m := summary.FindStringSubmatch(cairn(t, env, "backup", "--json", src))
		if m == nil {
			t.Fatal("no snapshot ID in the backup summary")
		}
		digests[m[1]] = want
	}
	cairn(t, env, "forget", "--keep-last", "2")

	steps := []string{
		`^repacking \d+ packs$`,
		`^rebuilding index$`,
		`^recording \d+ condemned packs$`,
		`^deleting \d+ obsolete index files$`,
		`^noting 0 locks held at the index swap$`,
		`^finishing pending prune [0-9a-f]{8}: `,
		`^deleting \d+ condemned packs$`,
		`^removing pending prune record [0-9a-f]{8}$`,
	}
	for _, step := range steps {
		for _, delay := range []time.Duration{0, 5 * time.Millisecond} {
			repo := filepath.Join(t.TempDir(), "repo")
			if out, err := exec.Command("cp", "-a", base, repo).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v\n%s", err, out)
			}
			env := repoEnv(repo, "pw")
			if !killPruneAt(t, env, regexp.MustCompile(step), delay) {
				t.Errorf("step %q: prune never announced it", step)
				continue
			}
			what := step + " +" + delay.String()
			checkAfterKill(t, what, env, digests)
			for range 2 {
				cairn(t, env, "prune", "--max-unused", "0", "--grace", "0s")
			}
			if out := cairn(t, env, "check"); strings.Contains(out, "condemned packs") || strings.Contains(out, "not referenced") {
				t.Errorf("%s: after the next prunes, check still finds condemned or unreferenced packs:\n%s", what, out)
			}
			restic(t, env, "check", "--read-data")
		}
	}
}

// killPruneAt runs a prune and kills it (SIGKILL) delay after it prints a
// line matching re. It reports whether the line came.
func killPruneAt(t *testing.T, env []string, re *regexp.Regexp, delay time.Duration) bool {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), cairnBin, "prune", "--max-unused", "0", "--grace", "0s")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC",
		"RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache"), "CAIRN_KDF_PARAMS=1024,8,1"}, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if !seen && re.MatchString(sc.Text()) {
			seen = true
			time.Sleep(delay)
			_ = cmd.Process.Kill()
		}
	}
	_ = cmd.Wait()
	return seen
}

// checkAfterKill: both checkers pass and every snapshot restores to what
// was backed up.
func checkAfterKill(t *testing.T, what string, env []string, digests map[string]string) {
	t.Helper()
	if res := run(t, env, cairnBin, "check"); res.code != 0 {
		t.Errorf("%s: cairn check after the kill: %v", what, res)
	}
	cairn(t, env, "unlock") // the killed prune's lock, for restic
	if res := run(t, env, resticBin(t), "check"); res.code != 0 {
		t.Errorf("%s: restic check after the kill: %v", what, res)
	}
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(cairn(t, env, "snapshots", "--json")), &snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 {
		t.Errorf("%s: %d snapshots, want 2", what, len(snaps))
	}
	for _, s := range snaps {
		if got, err := restoredDigest(t, env, s.ID); err != nil || got != digests[s.ID] {
			t.Errorf("%s: snapshot %s does not restore to its source (%v)", what, s.ID[:8], err)
		}
	}
}
