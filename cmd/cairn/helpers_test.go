package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// cairnBin is the cairn binary built once for the whole test run, so that
// tests exercise real processes: exit codes, stderr and signals included.
var cairnBin string

func TestMain(m *testing.M) {
	if report := os.Getenv(peakRSSEnv); report != "" {
		os.Exit(runForPeakRSS(report, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "cairn-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cairnBin = filepath.Join(dir, "cairn")
	// Not a race build: scrypt under the race detector costs seconds per
	// process start. Races are caught by the in-process tests under -race.
	build := exec.Command("go", "build", "-o", cairnBin, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cairn:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a finished process left behind.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run starts a process with a clean environment (PATH, HOME, TMPDIR plus
// env) and waits for it.
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	return runIn(t, "", env, name, args...)
}

// runIn is run in the working directory dir ("" for the test's own).
func runIn(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	res, _ := runCmd(t, testCommand(t, dir, env, name, args...))
	return res
}

// testCommand is the process run and runIn start, not started yet.
func testCommand(t *testing.T, dir string, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TMPDIR=" + os.TempDir(),
		"TZ=UTC",
		"RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache"),
		// Keys cairn writes in tests are cheap to open, for both tools.
		"CAIRN_KDF_PARAMS=1024,8,1",
	}, env...)
	return cmd
}

// runCmd runs cmd (from testCommand) with its output captured, as runIn does,
// and also returns its state (resource usage included).
func runCmd(t *testing.T, cmd *exec.Cmd) (result, *os.ProcessState) {
	t.Helper()
	name, args := cmd.Path, cmd.Args[1:]
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("run %s %v: %v", name, args, err)
	}
	if strings.Contains(res.stderr, "panic:") || strings.Contains(res.stderr, "goroutine ") || strings.Contains(res.stderr, "DATA RACE") {
		t.Fatalf("%s %v crashed:\n%v", name, args, res)
	}
	return res, cmd.ProcessState
}

// cairn runs the cairn binary and fails the test on a non-zero exit.
func cairn(t *testing.T, env []string, args ...string) string {
	t.Helper()
	res := run(t, env, cairnBin, args...)
	if res.code != 0 {
		t.Fatalf("cairn %v: %v", args, res)
	}
	return res.stdout
}

// cairnIn runs cairn in dir and fails the test on a non-zero exit.
func cairnIn(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	res := runIn(t, dir, env, cairnBin, args...)
	if res.code != 0 {
		t.Fatalf("cairn %v (in %s): %v", args, dir, res)
	}
	return res.stdout
}

// resticIn runs restic in dir and fails the test on a non-zero exit.
func resticIn(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	res := runIn(t, dir, env, resticBin(t), args...)
	if res.code != 0 {
		t.Fatalf("restic %v (in %s): %v", args, dir, res)
	}
	return res.stdout
}

// resticBin returns the restic binary to test against ($RESTIC_BIN or
// restic on the PATH); see testservers.Restic.
func resticBin(t *testing.T) string {
	t.Helper()
	return testservers.Restic(t)
}

// restic runs the restic binary and fails the test on a non-zero exit.
func restic(t *testing.T, env []string, args ...string) string {
	t.Helper()
	res := run(t, env, resticBin(t), args...)
	if res.code != 0 {
		t.Fatalf("restic %v: %v", args, res)
	}
	return res.stdout
}

// repoEnv is the environment for a repository at dir with password pw.
func repoEnv(dir, pw string) []string {
	return []string{"RESTIC_REPOSITORY=" + dir, "RESTIC_PASSWORD=" + pw}
}

// writeFile writes content to a new file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// treeState lists every path under dir with its size, mode and mtime, to
// show that a command changed nothing.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %v %d\n", p, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// resticInit creates a repository with restic, then swaps restic's
// expensive key for a cheap one with the same password, so that the many
// processes a test starts do not each spend a second in scrypt. Tests of
// restic's own keys use plain `restic init`.
func resticInit(t *testing.T, env []string, args ...string) {
	t.Helper()
	restic(t, env, append([]string{"init"}, args...)...)
	old := sortedLines(cairn(t, env, "list", "keys"))
	pwFile := filepath.Join(t.TempDir(), "pw")
	pw := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "RESTIC_PASSWORD="); ok {
			pw = v
		}
	}
	if err := os.WriteFile(pwFile, []byte(pw), 0o600); err != nil {
		t.Fatal(err)
	}
	cairn(t, env, "key", "add", "--new-password-file", pwFile)
	for _, k := range old {
		cairn(t, append(env, "CAIRN_KEY_HINT="+notIn(t, env, old)), "key", "remove", k)
	}
}

// notIn returns the ID of a key of the repository in env not listed in old.
func notIn(t *testing.T, env []string, old []string) string {
	t.Helper()
	for _, k := range sortedLines(cairn(t, env, "list", "keys")) {
		if !slices.Contains(old, k) {
			return k
		}
	}
	t.Fatal("no new key")
	return ""
}
