package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// restic019 returns a restic binary of 0.17 or later, the versions with
// --insecure-no-password and restic's current output: $RESTIC_019_BIN,
// $RESTIC_BIN when it is that new, or shared/bin/restic-0.19.1 beside the
// work tree or the clone; "" when there is none.
// Tests that use it also check cairn against restic's behaviour recorded
// in the test, so they prove something without it.
func restic019(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("RESTIC_019_BIN"), os.Getenv("RESTIC_BIN"), "/work/shared/bin/restic-0.19.1", "../../../shared/bin/restic-0.19.1"} {
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil && resticAtLeast17(abs) {
			return abs
		}
	}
	t.Log("restic 0.19.1 not found: checking against its recorded behaviour only")
	return ""
}

// resticAtLeast17 reports whether bin runs and is restic 0.17 or later.
func resticAtLeast17(bin string) bool {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(out), "restic %d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 0 || minor >= 17
}

// asCairn turns restic's name in a message into cairn's.
func asCairn(s string) string { return strings.ReplaceAll(s, "restic", "cairn") }

// runStdin is run with data on standard input.
func runStdin(t *testing.T, stdin string, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC",
		"RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache"), "CAIRN_KDF_PARAMS=1024,8,1"}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestGlobalUsageErrors: an unknown command prints cobra's suggestion on
// separate lines, and command-line mistakes have no "Fatal:" and no JSON,
// exit 1, as restic 0.19.1.
func TestGlobalUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string // restic 0.19.1's stderr, recorded, with cairn's name
	}{
		{[]string{"snapshotz"}, "unknown command \"snapshotz\" for \"cairn\"\n\nDid you mean this?\n\tsnapshots\n\n"},
		{[]string{"snapshotz", "--json"}, "unknown command \"snapshotz\" for \"cairn\"\n\nDid you mean this?\n\tsnapshots\n\n"},
		{[]string{"frobnicate"}, "unknown command \"frobnicate\" for \"cairn\"\n"},
		{[]string{"snapshots", "--no-such-flag"}, "unknown flag: --no-such-flag\n"},
		{[]string{"snapshots", "--retry-lock", "abc", "--json"}, "invalid argument \"abc\" for \"--retry-lock\" flag: time: invalid duration \"abc\"\n"},
		// --json parsed before the mistake: restic's exit_error line,
		// without "Fatal: ".
		{[]string{"--json", "snapshots", "--retry-lock", "abc"}, `{"message_type":"exit_error","code":1,"message":"invalid argument \"abc\" for \"--retry-lock\" flag: time: invalid duration \"abc\""}` + "\n"},
	}
	r19 := restic019(t)
	for _, c := range cases {
		res := run(t, nil, cairnBin, c.args...)
		if res.code != 1 || res.stderr != c.want || res.stdout != "" {
			t.Errorf("cairn %v: exit %d, stderr %q, stdout %q; want exit 1, stderr %q", c.args, res.code, res.stderr, res.stdout, c.want)
		}
		if r19 == "" {
			continue
		}
		if rr := run(t, nil, r19, c.args...); rr.code != 1 || asCairn(rr.stderr) != c.want {
			t.Errorf("restic 0.19.1 %v: exit %d, stderr %q; the recorded behaviour is out of date", c.args, rr.code, rr.stderr)
		}
	}
}

// TestGlobalRootHelpExitStatus: `cairn --help` documents restic's exit
// codes.
func TestGlobalRootHelpExitStatus(t *testing.T) {
	out := cairn(t, nil, "--help")
	if !strings.Contains(out, "EXIT STATUS") {
		t.Fatalf("--help has no EXIT STATUS section:\n%s", out)
	}
	for _, code := range []string{"\n0 ", "\n1 ", "\n3 ", "\n10 ", "\n11 ", "\n12 ", "\n130 "} {
		if !strings.Contains(out, code) {
			t.Errorf("--help does not explain exit code %q", strings.TrimSpace(code))
		}
	}
}

// copyFixture copies the repository under testdata/name into a new
// directory, with the directories git does not keep.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	src := filepath.Join("testdata", name)
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	must(t, err)
	for _, d := range []string{"data", "index", "keys", "locks", "snapshots"} {
		must(t, os.MkdirAll(filepath.Join(dst, d), 0o700))
	}
	return dst
}

// TestGlobalInsecureNoPassword: testdata/nopw-repo was made by restic
// 0.19.1 with `init --insecure-no-password` and holds one snapshot.
// Every command opens it with the flag; without it the empty password is
// refused, and the flag beside a password is an error, with restic's
// messages; restic 0.19.1 (when present) reads what cairn adds.
func TestGlobalInsecureNoPassword(t *testing.T) {
	repo := copyFixture(t, "nopw-repo")
	src := writeFile(t, t.TempDir(), "src/new.txt", "added by cairn")
	pwFile := writeFile(t, t.TempDir(), "pw", "something\n")
	r := "RESTIC_REPOSITORY=" + repo
	const (
		emptyRefused = "Fatal: an empty password is not allowed by default. Pass the flag `--insecure-no-password` to cairn to disable this check\n"
		both         = "Fatal: --insecure-no-password must not be specified together with providing a password via a cli option or environment variable\n"
	)
	cases := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr string // restic 0.19.1's, recorded; "" for a success
	}{
		{"flag opens it", []string{r}, []string{"--insecure-no-password", "cat", "config"}, 0, ""},
		{"no password, empty stdin", []string{r}, []string{"cat", "config"}, 1, emptyRefused},
		{"empty RESTIC_PASSWORD", []string{r, "RESTIC_PASSWORD="}, []string{"cat", "config"}, 1, emptyRefused},
		{"flag and RESTIC_PASSWORD", []string{r, "RESTIC_PASSWORD=x"}, []string{"--insecure-no-password", "cat", "config"}, 1, both},
		{"flag and --password-file", []string{r}, []string{"--insecure-no-password", "--password-file", pwFile, "cat", "config"}, 1, both},
	}
	r19 := restic019(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := run(t, c.env, cairnBin, c.args...)
			if res.code != c.code || (c.stderr != "" && res.stderr != c.stderr) {
				t.Errorf("cairn: exit %d, stderr %q; want exit %d, stderr %q", res.code, res.stderr, c.code, c.stderr)
			}
			if r19 == "" {
				return
			}
			rr := run(t, c.env, r19, c.args...)
			if rr.code != c.code || (c.stderr != "" && asCairn(rr.stderr) != c.stderr) {
				t.Errorf("restic 0.19.1: exit %d, stderr %q; the recorded behaviour is out of date", rr.code, rr.stderr)
			}
		})
	}

	// Commands that read, lock and write all take the empty password.
	env := []string{r}
	var snaps []map[string]any
	must(t, json.Unmarshal([]byte(cairn(t, env, "--insecure-no-password", "snapshots", "--json")), &snaps))
	if len(snaps) != 1 || snaps[0]["hostname"] != "fixture-host" {
		t.Fatalf("snapshots of restic's repository: %v", snaps)
	}
	cairn(t, env, "--insecure-no-password", "backup", "--host", "cairn-host", filepath.Dir(src))
	cairn(t, env, "--insecure-no-password", "check")
	out := cairn(t, env, "--insecure-no-password", "ls", "latest")
	if !strings.Contains(out, "new.txt") {
		t.Errorf("ls latest after cairn's backup:\n%s", out)
	}
	if r19 != "" {
		out := run(t, env, r19, "--insecure-no-password", "snapshots")
		if out.code != 0 || !strings.Contains(out.stdout, "cairn-host") || !strings.Contains(out.stdout, "fixture-host") {
			t.Errorf("restic 0.19.1 snapshots after cairn's backup: %v", out)
		}
		if res := run(t, env, r19, "--insecure-no-password", "check", "--read-data"); res.code != 0 {
			t.Errorf("restic 0.19.1 check: %v", res)
		}
	}
}

// TestGlobalPasswordFromStdin: without a password source and without a
// terminal, the password is the first line of standard input, as restic
// reads it (restic 0.14 as well).
func TestGlobalPasswordFromStdin(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	cairn(t, repoEnv(repo, "pw"), "init")
	env := []string{"RESTIC_REPOSITORY=" + repo}
	for name, bin := range map[string]string{"cairn": cairnBin, "restic": resticBin(t)} {
		if res := runStdin(t, "pw\nignored\n", env, bin, "cat", "config"); res.code != 0 {
			t.Errorf("%s with the password on stdin: %v", name, res)
		}
		// restic 0.14 predates exit code 12.
		if res := runStdin(t, "wrong\n", env, bin, "cat", "config"); res.code == 0 || (name == "cairn" && res.code != 12) {
			t.Errorf("%s with a wrong password on stdin: exit %d, want 12\n%v", name, res.code, res)
		}
	}
}
