package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lookTool finds a test tool on the PATH. Without it the test is skipped,
// except under CI=true, where it is a failure (scripts/install-test-deps.sh
// installs it).
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; CI must install it (make test does)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// statusLine is backup's progress line as restic draws it.
var statusLine = regexp.MustCompile(`^\[(\d+:\d\d)\] (\d+\.\d\d%  )?(\d+) files ([0-9.]+ [KMGT]?i?B), total (\d+) files ([0-9.]+ [KMGT]?i?B), (\d+) errors`)

// restoreLine is restore's progress line as restic draws it.
var restoreLine = regexp.MustCompile(`^\[\d+:\d\d\] \d+\.\d\d%  \d+ files/dirs`)

// TestTerminalProgress runs a backup of a few hundred MiB in a real
// terminal (a tmux session), captures the screen while it runs and shows
// restic's status line redrawn in place with numbers that grow, then gone
// at the end, replaced by the summary; then a restore, whose status line
// is gone too when its summary is printed; then check --read-data, whose
// pack count stays.
func TestTerminalProgress(t *testing.T) {
	tmux := lookTool(t, "tmux")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for i := range 24 {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%02d", i)), 20<<20, uint64(i+1))
	}
	env := append(repoEnv(filepath.Join(dir, "repo"), "pw"),
		"CAIRN_KDF_PARAMS=1024,8,1", "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"), "TERM=xterm")
	cairn(t, env, "init")

	var script strings.Builder
	script.WriteString("cd " + strconv.Quote(dir) + "\n")
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		fmt.Fprintf(&script, "export %s=%s\n", k, strconv.Quote(v))
	}
	// One reader, so that the backup lasts long enough to watch.
	fmt.Fprintf(&script, "%s backup --read-concurrency 1 src\necho \"EXIT $?\"\n", strconv.Quote(cairnBin))
	fmt.Fprintf(&script, "%s restore latest --target restored\n%[1]s check --read-data\necho \"RESTORE $?\"\nsleep 600\n", strconv.Quote(cairnBin))
	scriptPath := filepath.Join(dir, "run.sh")
	must(t, os.WriteFile(scriptPath, []byte(script.String()), 0o755))

	sock := fmt.Sprintf("cairn-test-%d", os.Getpid())
	tm := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tm("new-session", "-d", "-s", "backup", "-x", "200", "-y", "50", "bash "+scriptPath)
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", sock, "kill-server").Run() })

	var screens []string
	var done []string // bytes done in each status line seen, in order
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		screen := tm("capture-pane", "-p", "-t", "backup")
		screens = append(screens, screen)
		for _, line := range strings.Split(screen, "\n") {
			if m := statusLine.FindStringSubmatch(line); m != nil {
				if len(done) == 0 || done[len(done)-1] != m[4] {
					done = append(done, m[4])
				}
			}
		}
		if strings.Contains(screen, "RESTORE ") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("bytes done in the status lines seen: %q", done)
	final := screens[len(screens)-1]
	if !strings.Contains(final, "EXIT 0") || !strings.Contains(final, "RESTORE 0") {
		t.Fatalf("backup, restore and check did not finish with exit 0; last screen:\n%s", final)
	}
	// check --read-data leaves its last count on the screen, as restic.
	if m := regexp.MustCompile(`(?m)^\[\d+:\d\d\] 100\.00%  (\d+) / (\d+) packs$`).FindStringSubmatch(final); m == nil || m[1] != m[2] {
		t.Errorf("no final pack count of check --read-data:\n%s", final)
	}
	if len(done) < 2 || parseSize(t, done[len(done)-1]) <= parseSize(t, done[0]) {
		t.Errorf("want a status line whose bytes grow, saw %q; screens:\n%s", done, strings.Join(screens, "\n----\n"))
	}
	for _, line := range strings.Split(final, "\n") {
		if statusLine.MatchString(line) || restoreLine.MatchString(line) {
			t.Errorf("status line left on the screen after the backup: %q\n%s", line, final)
		}
	}
	for _, want := range []string{"no parent snapshot found, will read all files", "Files:          24 new,     0 changed,     0 unmodified", "processed 24 files, 480.000 MiB in ", " saved",
		"Summary: Restored 25 files/dirs (480.000 MiB) in "} {
		if !strings.Contains(final, want) {
			t.Errorf("final screen lacks %q:\n%s", want, final)
		}
	}
}

func parseSize(t *testing.T, s string) float64 {
	t.Helper()
	num, unit, _ := strings.Cut(s, " ")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		t.Fatalf("size %q: %v", s, err)
	}
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if unit == u {
			return f
		}
		f *= 1024
	}
	t.Fatalf("size %q: unknown unit", s)
	return 0
}

// TestPipedOutputIsPlain: with stdout and stderr not terminals (pipes),
// backup and restore write no control characters (no carriage return, no
// escape), even when a status is asked for with $RESTIC_PROGRESS_FPS, and
// the status lines that are printed are whole lines.
func TestPipedOutputIsPlain(t *testing.T) {
	t.Parallel()
	env, src := textFixture(t)
	writeRandom(t, filepath.Join(src, "data/big"), 64<<20, 7)
	for _, extra := range [][]string{nil, {"RESTIC_PROGRESS_FPS=50"}} {
		e := append(append([]string{}, env...), extra...)
		res := runIn(t, src, e, cairnBin, "backup", "-vv", "--read-concurrency", "1", "data", "missing")
		if res.code != 3 {
			t.Fatalf("backup: %v", res)
		}
		target := filepath.Join(t.TempDir(), "t")
		res2 := runIn(t, src, e, cairnBin, "restore", "-vv", "latest", "--target", target)
		if res2.code != 0 {
			t.Fatalf("restore: %v", res2)
		}
		all := res.stdout + res.stderr + res2.stdout + res2.stderr
		if i := strings.IndexAny(all, "\r\x1b"); i >= 0 {
			t.Errorf("control character in piped output (%v) at %d: %q", extra, i, all[max(0, i-40):min(len(all), i+40)])
		}
		if bytes.Count([]byte(res.stdout), []byte("\n[")) > 0 && extra == nil {
			t.Errorf("status lines without a terminal or $RESTIC_PROGRESS_FPS:\n%s", res.stdout)
		}
	}
}
