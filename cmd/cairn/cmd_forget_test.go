package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// forgetGroups is the part of `forget --json` output the tests compare:
// per snapshot ID, whether it is kept and with which reasons.
type forgetGroups []struct {
	Host    string                `json:"host"`
	Tags    []string              `json:"tags"`
	Paths   []string              `json:"paths"`
	Keep    []struct{ ID string } `json:"keep"`
	Remove  []struct{ ID string } `json:"remove"`
	Reasons []struct {
		Matches []string `json:"matches"`
	} `json:"reasons"`
}

// forgetDecision maps snapshot IDs to their reasons ("remove" for
// snapshots the policy removes).
func forgetDecision(t *testing.T, out string) map[string]string {
	t.Helper()
	var groups forgetGroups
	mustJSON(t, out, &groups)
	m := map[string]string{}
	for _, g := range groups {
		for _, s := range g.Remove {
			m[s.ID[:8]] = "remove"
		}
		// restic 0.14 leaves the ID out of the reasons' snapshots; they
		// are in the order of the kept ones.
		if len(g.Reasons) != len(g.Keep) {
			t.Fatalf("group %s %v: %d kept, %d reasons", g.Host, g.Paths, len(g.Keep), len(g.Reasons))
		}
		for i, r := range g.Reasons {
			m[g.Keep[i].ID[:8]] = strings.Join(r.Matches, ", ")
		}
	}
	return m
}

// forgetTimes are the snapshot times of the interop test: clusters within
// hours and days, month ends, and ISO weeks that straddle new year
// (2018-12-31 is in week 1 of 2019, 2021-01-03 in week 53 of 2020).
var forgetTimes = []struct {
	at, host, tag string
}{
	{"2018-11-30 23:59:59", "h1", ""}, {"2018-12-01 00:00:00", "h1", ""},
	{"2018-12-30 10:00:00", "h1", "important"}, {"2018-12-31 09:00:00", "h1", ""},
	{"2019-01-01 08:00:00", "h1", ""}, {"2019-06-15 12:00:00", "h2", ""},
	{"2020-02-29 18:30:00", "h1", ""}, {"2020-12-31 12:00:00", "h1", ""},
	{"2021-01-03 12:00:00", "h1", "important"}, {"2021-01-04 00:00:01", "h1", ""},
	{"2021-01-04 00:30:00", "h1", ""}, {"2021-01-04 00:59:59", "h2", ""},
	{"2021-01-04 01:00:00", "h1", ""}, {"2021-01-04 13:45:00", "h1", ""},
	{"2021-01-05 07:00:00", "h2", "important"}, {"2021-01-06 07:00:00", "h1", ""},
	{"2021-01-10 23:00:00", "h1", ""}, {"2021-01-11 01:00:00", "h1", ""},
	{"2021-01-31 23:59:00", "h2", ""}, {"2021-02-01 00:01:00", "h1", ""},
	{"2021-02-14 10:00:00", "h1", "important"}, {"2021-02-28 10:00:00", "h1", ""},
	{"2021-03-01 10:00:00", "h2", ""}, {"2021-03-02 10:00:00", "h1", ""},
	{"2021-03-02 10:10:00", "h1", ""}, {"2021-03-02 11:10:00", "h1", ""},
	{"2021-03-03 09:00:00", "h1", ""}, {"2021-03-10 09:00:00", "h2", ""},
	{"2021-03-14 09:00:00", "h1", ""}, {"2021-03-15 09:00:00", "h1", ""},
}

// repoFilesState is treeState without the locks directory, which every
// locking command changes.
func repoFilesState(t *testing.T, repo string) string {
	t.Helper()
	var keep []string
	for _, l := range strings.Split(treeState(t, repo), "\n") {
		if !strings.HasPrefix(l, filepath.Join(repo, "locks")) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// runQuiet is run for use from other goroutines: it reports a failure to
// start in the result instead of failing the test.
func runQuiet(t *testing.T, env []string, name string, args ...string) result {
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TZ=UTC", "CAIRN_KDF_PARAMS=1024,8,1"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		res.code, res.stderr = -1, err.Error()
	}
	return res
}

// TestForgetMatchesRestic: for a set of snapshots with chosen times,
// restic 0.14 and cairn keep the same snapshots for the same reasons
// under many policies.
func TestForgetMatchesRestic(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a", "some data")
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init")
	// Concurrent backups (shared locks) save the lock waits of serial ones.
	results := make(chan result, len(forgetTimes))
	for _, s := range forgetTimes {
		args := []string{"backup", "-q", "--time", s.at, "--host", s.host}
		if s.tag != "" {
			args = append(args, "--tag", s.tag)
		}
		go func() { results <- runQuiet(t, env, cairnBin, append(args, src)...) }()
	}
	for range forgetTimes {
		if r := <-results; r.code != 0 {
			t.Fatalf("backup: %v", r)
		}
	}
	if n := len(sortedLines(restic(t, env, "list", "snapshots"))); n != len(forgetTimes) {
		t.Fatalf("%d snapshots, want %d", n, len(forgetTimes))
	}

	policies := [][]string{
		{"--keep-last", "5"},
		{"--keep-hourly", "6"},
		{"--keep-daily", "4"},
		{"--keep-weekly", "5", "--keep-monthly", "3"},
		{"--keep-yearly", "3", "--keep-last", "1"},
		{"--keep-within", "1m15d"},
		{"--keep-within", "3d12h", "--keep-daily", "2"},
		{"--keep-within-daily", "10d", "--keep-within-weekly", "2m", "--keep-within-monthly", "1y"},
		{"--keep-within-hourly", "2d", "--keep-within-yearly", "5y"},
		{"--keep-tag", "important", "--keep-last", "2"},
		{"--keep-tag", "", "--keep-weekly", "1"},
		{"--keep-daily", "3", "--group-by", "host"},
		{"--keep-monthly", "2", "--group-by", "", "--host", "h1"},
		{"--keep-weekly", "2", "--tag", "important", "--group-by", "tags"},
		{"--keep-last", "1", "--keep-hourly", "2", "--keep-daily", "2", "--keep-weekly", "2", "--keep-monthly", "2", "--keep-yearly", "2"},
	}
	for _, p := range policies {
		t.Run(strings.Join(p, " "), func(t *testing.T) {
			want := forgetDecision(t, restic(t, env, append([]string{"--no-lock", "forget", "--dry-run", "--json"}, p...)...))
			got := forgetDecision(t, cairn(t, env, append([]string{"--no-lock", "forget", "--dry-run", "--json"}, p...)...))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cairn forget %v differs from restic (-restic +cairn):\n%s", p, diff)
			}
		})
	}

	// restic 0.14 takes -1 as "keep nothing" (later releases: unlimited);
	// cairn's -1 keeps every bucket, like a large count.
	want := forgetDecision(t, restic(t, env, "--no-lock", "forget", "--dry-run", "--json", "--keep-weekly", "1000"))
	got := forgetDecision(t, cairn(t, env, "--no-lock", "forget", "--dry-run", "--json", "--keep-weekly", "-1"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("--keep-weekly -1 (-restic 1000 +cairn -1):\n%s", diff)
	}
	if n := len(sortedLines(restic(t, env, "list", "snapshots"))); n != len(forgetTimes) {
		t.Fatalf("a dry run removed snapshots: %d left", n)
	}
}

// TestForgetRemoves: forget by ID and by policy removes exactly those
// snapshot files; the text output names the policy and the reasons; an
// empty policy removes nothing.
func TestForgetRemoves(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a", "data")
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	for _, at := range []string{"2024-01-01 10:00:00", "2024-01-02 10:00:00", "2024-01-03 10:00:00", "2024-01-03 11:00:00", "2024-01-04 10:00:00"} {
		cairn(t, env, "backup", "-q", "--time", at, src)
	}
	ids := func() []string { return sortedLines(restic(t, env, "list", "snapshots", "--no-lock")) }
	all := ids()

	before := repoFilesState(t, repo)
	out := cairn(t, env, "forget", "--dry-run", "--keep-daily", "2")
	for _, want := range []string{"Applying Policy: keep 2 daily snapshots", "keep 2 snapshots:", "Reasons", "daily snapshot", "remove 3 snapshots:", "Would have removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("forget --dry-run output lacks %q:\n%s", want, out)
		}
	}
	if after := repoFilesState(t, repo); after != before {
		t.Errorf("forget --dry-run changed the repository:\n%s\n%s", before, after)
	}
	out = cairn(t, env, "forget", "--keep-daily", "2")
	if !strings.Contains(out, "removed 3 snapshots") {
		t.Errorf("forget output:\n%s", out)
	}
	left := ids()
	if len(left) != 2 || len(all) != 5 {
		t.Fatalf("after --keep-daily 2: %d of %d snapshots left, want 2", len(left), len(all))
	}
	// restic 0.19.1 fails on an empty policy (0.14 printed a note and
	// exited 0).
	for _, args := range [][]string{{"forget"}, {"forget", "--keep-last", "0"}} {
		if res := run(t, env, cairnBin, args...); res.code != 1 || !strings.Contains(res.stderr, "no policy was specified") {
			t.Errorf("cairn %v: want exit 1, no policy was specified:\n%v", args, res)
		}
	}
	if got := ids(); !slices.Equal(got, left) {
		t.Errorf("an empty policy removed snapshots: %v", got)
	}

	// By ID (and prefix) on a fresh set.
	dir2 := t.TempDir()
	env2 := repoEnv(filepath.Join(dir2, "repo"), "pw")
	cairn(t, env2, "init")
	for _, at := range []string{"2024-01-01 10:00:00", "2024-01-02 10:00:00", "2024-01-03 10:00:00"} {
		cairn(t, env2, "backup", "-q", "--time", at, src)
	}
	snaps := sortedLines(restic(t, env2, "list", "snapshots"))
	state := treeState(t, filepath.Join(dir2, "repo", "snapshots"))
	cairn(t, env2, "forget", "--dry-run", snaps[0], snaps[1][:8])
	if treeState(t, filepath.Join(dir2, "repo", "snapshots")) != state {
		t.Error("forget --dry-run changed the snapshots")
	}
	cairn(t, env2, "forget", snaps[0], snaps[1][:8])
	if got := sortedLines(restic(t, env2, "list", "snapshots")); !slices.Equal(got, snaps[2:]) {
		t.Errorf("after forget by ID: %v, want %v", got, snaps[2:])
	}
	// An ID that matches nothing is skipped with a warning, exit 0, by
	// restic (0.14 and 0.19.1 alike) and cairn; the other IDs are removed.
	for _, bin := range []string{resticBin(t), cairnBin} {
		res := run(t, env2, bin, "forget", "ffffffff")
		if res.code != 0 || !strings.Contains(res.stderr, `Ignoring "ffffffff"`) {
			t.Errorf("%s forget ffffffff: want exit 0 and a warning: %v", filepath.Base(bin), res)
		}
	}
	if res := run(t, env2, cairnBin, "forget", "ffffffff", snaps[2]); res.code != 0 {
		t.Errorf("forget ffffffff %s: %v", snaps[2][:8], res)
	}
	if got := sortedLines(restic(t, env2, "list", "snapshots")); len(got) != 0 {
		t.Errorf("after forget of an unknown and a known ID: %v left", got)
	}
}

// TestForgetDryRunNoLock: --dry-run --no-lock works on a repository
// another process holds an exclusive lock on.
func TestForgetDryRunNoLock(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a", "data")
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", "-q", src)
	cairn(t, env, "backup", "-q", src)
	var groups forgetGroups
	mustJSON(t, cairn(t, env, "--no-lock", "forget", "--dry-run", "--json", "--keep-last", "1"), &groups)
	if len(groups) != 1 || len(groups[0].Keep) != 1 || len(groups[0].Remove) != 1 {
		t.Errorf("dry run JSON: %+v", groups)
	}
	if lockCount(repo) != 0 {
		t.Errorf("%d locks left", lockCount(repo))
	}
}
