package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/repository"
)

// copyStatusLine is copy's status on a terminal.
var copyStatusLine = regexp.MustCompile(`^\[\d+:\d\d\] \d+\.\d\d%  \d+ / 2 snapshots, \d+ blobs \([0-9.]+ [KMGT]?i?B\) copied`)

// openedLine is restic's line for a repository opened, on a terminal.
var openedLine = regexp.MustCompile(`(?m)^repository [0-9a-f]{8} opened \(version 2, compression level auto\)$`)

// indexLine is restic's count of index files loaded, left on a terminal.
var indexLine = regexp.MustCompile(`(?m)^\[\d+:\d\d\] 100\.00%  (\d+) / (\d+) index files loaded$`)

// twoRepoFixture makes a source repository with two snapshots of 48 MiB of
// random data and an empty destination; env opens the destination with
// the source as the --from repository.
func twoRepoFixture(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	for i := range 3 {
		writeRandom(t, filepath.Join(dir, "data", fmt.Sprintf("f%d", i)), 16<<20, uint64(i+40))
	}
	base := []string{"CAIRN_KDF_PARAMS=1024,8,1", "RESTIC_CACHE_DIR=" + filepath.Join(dir, "cache")}
	srcEnv := append(repoEnv(filepath.Join(dir, "src"), "pw"), base...)
	cairn(t, srcEnv, "init")
	if res := runIn(t, dir, srcEnv, cairnBin, "backup", "data"); res.code != 0 {
		t.Fatalf("backup: %v", res)
	}
	if res := runIn(t, dir, srcEnv, cairnBin, "backup", "--tag", "two", "data"); res.code != 0 {
		t.Fatalf("backup: %v", res)
	}
	env = append(repoEnv(filepath.Join(dir, "dst"), "pw"), base...)
	env = append(env, "RESTIC_FROM_REPOSITORY="+filepath.Join(dir, "src"), "RESTIC_FROM_PASSWORD=pw")
	cairn(t, env, "init")
	return dir, env
}

// inTerminal runs the shell script body in a tmux session of 200x50 with
// env exported, and returns the screens captured every 20 ms until the
// script has printed "DONE <exit code>", the last one last.
func inTerminal(t *testing.T, dir string, env []string, body string) []string {
	t.Helper()
	tmux := lookTool(t, "tmux")
	var script strings.Builder
	script.WriteString("cd " + strconv.Quote(dir) + "\n")
	for _, e := range append(env, "TERM=xterm") {
		k, v, _ := strings.Cut(e, "=")
		fmt.Fprintf(&script, "export %s=%s\n", k, strconv.Quote(v))
	}
	script.WriteString(body + "\necho \"DONE $?\"\nsleep 600\n")
	path := filepath.Join(dir, "run.sh")
	must(t, os.WriteFile(path, []byte(script.String()), 0o755))
	sock := fmt.Sprintf("cairn-gaps-%d-%d", os.Getpid(), time.Now().UnixNano())
	if out, err := exec.Command(tmux, "-L", sock, "new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "bash "+path).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", sock, "kill-server").Run() })
	var screens []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		out, err := exec.Command(tmux, "-L", sock, "capture-pane", "-p", "-t", "t").CombinedOutput()
		if err != nil {
			t.Fatalf("tmux capture-pane: %v\n%s", err, out)
		}
		screens = append(screens, string(out))
		if strings.Contains(string(out), "DONE ") {
			return screens
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the script did not finish; last screen:\n%s", screens[len(screens)-1])
	return nil
}

// TestTerminalCopyProgress runs copy, with downloads slowed so that it
// lasts about a second, then rewrite, in a terminal (tmux): the screen
// shows, as restic's does, a "repository ... opened" line for each
// repository and the count of index files loaded, and while copying
// cairn's status line (snapshots done of the total, blobs and bytes
// copied); no status line is left at the end.
func TestTerminalCopyProgress(t *testing.T) {
	dir, env := twoRepoFixture(t)
	q := strconv.Quote(cairnBin)
	screens := inTerminal(t, dir, env, q+" copy --limit-download 40000 && "+q+" rewrite --exclude f0")
	final := screens[len(screens)-1]
	if !strings.Contains(final, "DONE 0") {
		t.Fatalf("copy failed:\n%s", final)
	}
	if n := len(openedLine.FindAllString(final, -1)); n != 3 {
		t.Errorf("want 3 'repository ... opened' lines (copy's source and destination, rewrite's), got %d:\n%s", n, final)
	}
	idx := indexLine.FindAllStringSubmatch(final, -1)
	if len(idx) != 2 || idx[0][1] != idx[0][2] || idx[1][1] != idx[1][2] {
		t.Errorf("want two final counts of index files loaded (copy's source, rewrite's; restic counts the empty destination's as \"0 index files loaded\"):\n%s", final)
	}
	if !regexp.MustCompile(`(?m)^\[\d+:\d\d\]          0 index files loaded$`).MatchString(final) {
		t.Errorf("no count of the destination's 0 index files:\n%s", final)
	}
	seen := 0
	for _, s := range screens {
		for _, line := range strings.Split(s, "\n") {
			if copyStatusLine.MatchString(line) {
				seen++
			}
		}
	}
	t.Logf("copy status lines seen in %d screens: %d; last screen:\n%s", len(screens), seen, final)
	if seen == 0 {
		t.Errorf("no copy status line seen in %d screens; last:\n%s", len(screens), final)
	}
	for _, line := range strings.Split(final, "\n") {
		if copyStatusLine.MatchString(line) || strings.HasSuffix(line, " snapshots") && strings.HasPrefix(line, "[") {
			t.Errorf("status line left on the screen: %q", line)
		}
	}
	if !strings.Contains(final, "copied 2 snapshots, ") || !strings.Contains(final, "rewrote 2 of 2 snapshots") {
		t.Errorf("no summary:\n%s", final)
	}
}

// TestTerminalQuietJSON: on a terminal, --quiet and --json print none of
// the terminal-only lines (restic 0.19.1 neither).
func TestTerminalQuietJSON(t *testing.T) {
	dir, env := twoRepoFixture(t)
	q := strconv.Quote(cairnBin)
	screens := inTerminal(t, dir, env, q+" copy --quiet && "+q+" rewrite --json --exclude f0 && "+q+" snapshots --quiet --json >/dev/null")
	final := screens[len(screens)-1]
	if !strings.Contains(final, "DONE 0") {
		t.Fatalf("commands failed:\n%s", final)
	}
	for _, s := range screens {
		if strings.Contains(s, " opened (") || strings.Contains(s, "index files loaded") || strings.Contains(s, "blobs (") || regexp.MustCompile(`(?m)^\[\d+:\d\d\]`).MatchString(s) {
			t.Fatalf("terminal-only output under --quiet or --json:\n%s", s)
		}
	}
	if !strings.Contains(final, `{"message_type":"summary"`) {
		t.Errorf("no JSON summary of rewrite:\n%s", final)
	}
}

// TestPipedCopyRewriteIsPlain: with stdout and stderr pipes, copy and
// rewrite print neither the lines restic shows only on a terminal (the
// repository opened, the index files loaded) nor a status, and no control
// characters.
func TestPipedCopyRewriteIsPlain(t *testing.T) {
	dir, env := twoRepoFixture(t)
	res := runIn(t, dir, env, cairnBin, "copy", "-v")
	if res.code != 0 {
		t.Fatalf("copy: %v", res)
	}
	res2 := runIn(t, dir, env, cairnBin, "rewrite", "--exclude", "f0")
	if res2.code != 0 {
		t.Fatalf("rewrite: %v", res2)
	}
	all := res.stdout + res.stderr + res2.stdout + res2.stderr
	if i := strings.IndexAny(all, "\r\x1b"); i >= 0 {
		t.Errorf("control character in piped output at %d: %q", i, all[max(0, i-40):min(len(all), i+40)])
	}
	for _, bad := range []string{" opened (", "index files loaded", "blobs (", "[0:"} {
		if strings.Contains(all, bad) {
			t.Errorf("piped output has %q:\n%s", bad, all)
		}
	}
	if !strings.Contains(res.stdout, "copied 2 snapshots, ") || !strings.Contains(res2.stdout, "rewrote 2 of 2 snapshots") {
		t.Errorf("summaries missing:\n%s\n%s", res.stdout, res2.stdout)
	}
}

// TestOpenedDetails: restic names the compression level only for
// repositories of version 2 (version 1 does not compress).
func TestOpenedDetails(t *testing.T) {
	if got := openedDetails(1, repository.CompressionMax); got != "version 1" {
		t.Errorf("version 1: %q", got)
	}
	if got := openedDetails(2, repository.CompressionMax); got != "version 2, compression level max" {
		t.Errorf("version 2: %q", got)
	}
}
