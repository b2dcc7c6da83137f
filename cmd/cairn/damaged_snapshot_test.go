package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// damagedRepo is a repository with three snapshots of src (files f1, f2,
// f3 added one per snapshot), the middle one of which has one byte
// flipped in the middle of its file, so that it fails to verify.
type damagedRepo struct {
	repo, work string   // repository; directory holding src
	env        []string // repository environment
	good       []string // full IDs of the first and last snapshot
	bad        string   // full ID of the damaged one
}

func newDamagedRepo(t *testing.T) damagedRepo {
	t.Helper()
	d := damagedRepo{repo: filepath.Join(t.TempDir(), "repo"), work: t.TempDir()}
	d.env = repoEnv(d.repo, "pw")
	cairn(t, d.env, "init")
	for i, name := range []string{"f1", "f2", "f3"} {
		writeFile(t, filepath.Join(d.work, "src"), name, strings.Repeat(name, i+1)+"\n")
		cairnIn(t, d.work, d.env, "backup", "-q", "src", "--time", "2024-01-0"+string(rune('1'+i))+" 10:00:00")
	}
	ids := snapshotIDs(t, d.env)
	if len(ids) != 3 {
		t.Fatalf("want 3 snapshots, have %v", ids)
	}
	d.good, d.bad = []string{ids[0], ids[2]}, ids[1]
	damage(t, d.snapshotFile(), func(b []byte) []byte { b[len(b)/2] ^= 0x04; return b })
	return d
}

func (d damagedRepo) snapshotFile() string { return filepath.Join(d.repo, "snapshots", d.bad) }

func short(full string) string { return full[:8] }

// damagedLines returns the lines of stderr that name the damaged snapshot.
func (d damagedRepo) damagedLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, short(d.bad)) {
			out = append(out, l)
		}
	}
	return out
}

// TestDamagedSnapshot: a snapshot file that fails to decrypt does not stop
// the commands that list snapshots. Each reports it in one line, as
// restic 0.19.1 does ("Ignoring "ID": ..."), goes on with the two others
// and exits as restic does (0); where restic 0.19.1 gives up on "latest"
// (ls, dump, restore, backup's parent: exit 1), cairn goes on too. A
// snapshot named by ID that cannot be read fails ls (exit 1, as restic).
// prune refuses, check reports it, forget ID removes it unread (restic
// 0.19.1 cannot), and then restic check passes.
func TestDamagedSnapshot(t *testing.T) {
	d := newDamagedRepo(t)
	g1, g3, bad := short(d.good[0]), short(d.good[1]), short(d.bad)
	ignoring := `Ignoring "` + d.bad + `": load snapshot ` + bad + `: invalid data`

	dst := filepath.Join(t.TempDir(), "dst")
	cairn(t, append(repoEnv(dst, "pw"), "RESTIC_FROM_PASSWORD=pw"), "init", "--copy-chunker-params", "--from-repo", d.repo)

	cases := []struct {
		name    string
		args    []string
		env     []string
		code    int
		warn    string   // start of the one stderr line about the damaged snapshot
		out     []string // in stdout
		notOut  string   // not in stdout ("" means the damaged short ID)
		resticC int      // restic 0.19.1's exit code, measured, for the record
	}{
		{name: "snapshots", args: []string{"snapshots"}, warn: ignoring, out: []string{g1, g3, "2 snapshots"}},
		{name: "snapshots json", args: []string{"snapshots", "--json"}, warn: ignoring,
			out: []string{`"short_id":"` + g1, `"short_id":"` + g3}, notOut: `"short_id":"` + bad},
		{name: "snapshots latest", args: []string{"snapshots", "latest"}, warn: ignoring, out: []string{g3, "1 snapshots"}},
		{name: "snapshots by ID", args: []string{"snapshots", bad[:5]}, warn: `Ignoring "` + bad[:5] + `": load snapshot ` + bad},
		{name: "forget policy", args: []string{"forget", "--keep-last", "1", "--dry-run"}, warn: ignoring,
			out: []string{"keep 1 snapshots", g3, "Would have removed the following snapshots:\n{" + g1 + "}"}},
		{name: "backup parent", args: []string{"backup", "--dry-run", "src"}, warn: ignoring,
			out: []string{"using parent snapshot " + g3}, resticC: 1},
		{name: "restore latest", args: []string{"restore", "latest", "--target", t.TempDir()}, warn: ignoring,
			out: []string{"restoring snapshot " + g3}, resticC: 1},
		{name: "ls latest", args: []string{"ls", "latest"}, warn: ignoring, out: []string{"snapshot " + g3, "/src/f3"}, resticC: 1},
		{name: "dump latest", args: []string{"dump", "latest", "/src/f3"}, warn: ignoring, out: []string{"f3f3f3\n"}, resticC: 1},
		{name: "find", args: []string{"find", "f1"}, warn: ignoring, out: []string{g1, g3}},
		{name: "stats", args: []string{"stats"}, warn: ignoring, out: []string{"Snapshots processed:  2"}},
		{name: "stats latest", args: []string{"stats", "latest"}, warn: ignoring, out: []string{"Snapshots processed:  1"}},
		{name: "diff latest", args: []string{"diff", g1, "latest"}, warn: ignoring, out: []string{"comparing snapshot " + g1 + " to " + g3}},
		{name: "rewrite", args: []string{"rewrite", "--exclude", "f1", "--dry-run"}, warn: ignoring,
			out: []string{"would rewrite snapshot " + g1, "would rewrite snapshot " + g3}},
		{name: "repair snapshots", args: []string{"repair", "snapshots", "--dry-run"}, warn: ignoring, out: []string{"repaired 0 of 2 snapshots"}},
		{name: "copy", args: []string{"-r", dst, "copy", "--from-repo", d.repo}, env: []string{"RESTIC_FROM_PASSWORD=pw"},
			warn: ignoring, out: []string{"copied 2 snapshots"}},
		{name: "ls damaged ID", args: []string{"ls", bad}, code: 1, warn: "Fatal: load snapshot " + bad + ": invalid data", resticC: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := runIn(t, d.work, append(d.env, c.env...), cairnBin, c.args...)
			if res.code != c.code {
				t.Errorf("exit code = %d, want %d (restic 0.19.1: %d)\n%v", res.code, c.code, c.resticC, res)
			}
			lines := d.damagedLines(res.stderr)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], c.warn) {
				t.Errorf("stderr lines about %s = %q, want one starting with %q", bad, lines, c.warn)
			}
			for _, w := range c.out {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("stdout lacks %q:\n%v", w, res)
				}
			}
			notOut := c.notOut
			if notOut == "" {
				notOut = bad
			}
			if strings.Contains(res.stdout, notOut) {
				t.Errorf("stdout names the damaged snapshot (%q):\n%v", notOut, res)
			}
		})
	}

	t.Run("serve", func(t *testing.T) { serveSkipsDamaged(t, d) })

	// prune cannot know which blobs the damaged snapshot uses: it stops,
	// in one line naming it (restic 0.19.1: "Fatal: failed loading
	// snapshot: failed to load snapshot ID: ...", exit 1).
	for _, args := range [][]string{{"prune", "--dry-run"}, {"prune"}} {
		res := run(t, d.env, cairnBin, args...)
		if res.code != 1 || len(d.damagedLines(res.stderr)) != 1 || !strings.Contains(res.stderr, "Fatal: load snapshot "+bad+": invalid data") ||
			!strings.Contains(res.stderr, "cairn forget "+bad) {
			t.Errorf("cairn %v on a damaged snapshot: want exit 1 and one line naming it\n%v", args, res)
		}
	}
	// check reports it as an error (as restic 0.19.1, exit 1).
	res := run(t, d.env, cairnBin, "check")
	if res.code != 1 || !strings.Contains(res.stderr, "error: snapshot "+d.bad+": load snapshot "+bad+": invalid data") {
		t.Errorf("check: want exit 1 and an error about %s\n%v", bad, res)
	}

	// tag changes the two readable ones (restic 0.19.1: the same, exit 0).
	res = run(t, d.env, cairnBin, "tag", "--add", "seen")
	if res.code != 0 || !strings.Contains(res.stdout, "modified 2 snapshots") || len(d.damagedLines(res.stderr)) != 1 {
		t.Errorf("tag: want 2 snapshots modified and one line about %s\n%v", bad, res)
	}

	// forget by ID removes the file without reading it.
	res = run(t, d.env, cairnBin, "forget", bad)
	if res.code != 0 || !strings.Contains(res.stdout, "removed 1 snapshots") ||
		!strings.HasPrefix(res.stderr, "removing damaged snapshot "+bad+" unread: load snapshot "+bad+": invalid data") {
		t.Errorf("forget %s: want it removed\n%v", bad, res)
	}
	if _, err := os.Stat(d.snapshotFile()); !os.IsNotExist(err) {
		t.Errorf("damaged snapshot file after forget: %v", err)
	}
	res = run(t, d.env, cairnBin, "snapshots")
	if res.code != 0 || res.stderr != "" || !strings.Contains(res.stdout, "2 snapshots") {
		t.Errorf("snapshots after forget:\n%v", res)
	}
	cairn(t, d.env, "prune")
	restic(t, d.env, "check")
}

// TestDamagedSnapshotRepair: repair snapshots --forget removes a snapshot
// file that cannot be read (restic 0.19.1 ignores it, exit 0, and leaves
// it); --dry-run only says so.
func TestDamagedSnapshotRepair(t *testing.T) {
	d := newDamagedRepo(t)
	bad := short(d.bad)
	res := run(t, d.env, cairnBin, "repair", "snapshots", "--forget", "--dry-run")
	if res.code != 0 || !strings.HasPrefix(res.stderr, "would remove damaged snapshot "+bad+": load snapshot "+bad+": invalid data") ||
		len(d.damagedLines(res.stderr)) != 1 {
		t.Errorf("repair snapshots --forget --dry-run:\n%v", res)
	}
	if _, err := os.Stat(d.snapshotFile()); err != nil {
		t.Fatalf("dry run removed the damaged snapshot: %v", err)
	}
	res = run(t, d.env, cairnBin, "repair", "snapshots", "--forget")
	if res.code != 0 || !strings.HasPrefix(res.stderr, "removed damaged snapshot "+bad+": load snapshot "+bad+": invalid data") ||
		len(d.damagedLines(res.stderr)) != 1 || !strings.Contains(res.stdout, "repaired 0 of 2 snapshots") {
		t.Errorf("repair snapshots --forget:\n%v", res)
	}
	if _, err := os.Stat(d.snapshotFile()); !os.IsNotExist(err) {
		t.Errorf("damaged snapshot file after repair snapshots --forget: %v", err)
	}
	res = run(t, d.env, cairnBin, "snapshots")
	if res.code != 0 || res.stderr != "" || !strings.Contains(res.stdout, "2 snapshots") {
		t.Errorf("snapshots after repair:\n%v", res)
	}
	restic(t, d.env, "check")
}

// serveSkipsDamaged: the web page lists the two readable snapshots and
// serve warns once about the damaged one.
func serveSkipsDamaged(t *testing.T, d damagedRepo) {
	cmd := exec.Command(cairnBin, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC",
		"RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache")}, d.env...)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("serve did not start: %v\n%s", err, stderr.String())
	}
	u := strings.TrimSpace(strings.TrimPrefix(line, "serving the repository at "))
	code, body, _ := get(t, u)
	time.Sleep(100 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve ended with %v:\n%s", err, stderr.String())
	}
	if code != 200 || !strings.Contains(string(body), short(d.good[0])) || !strings.Contains(string(body), short(d.good[1])) {
		t.Errorf("GET %s = %d, want both readable snapshots listed:\n%s", u, code, body)
	}
	if lines := d.damagedLines(stderr.String()); len(lines) != 1 || !strings.HasPrefix(lines[0], "warning: load snapshot "+short(d.bad)+": invalid data") {
		t.Errorf("serve stderr about %s = %q, want one warning", short(d.bad), lines)
	}
}
