package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInsecureNoPasswordReadsResticRepo opens a repository that restic
// 0.19.1 made with `init --insecure-no-password` (testdata/insecure-repo,
// one snapshot of hello.txt from host fixture-host) and checks how the
// password sources combine with the flag, as restic does.
func TestInsecureNoPasswordReadsResticRepo(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(repo, os.DirFS(filepath.Join("testdata", "insecure-repo"))); err != nil {
		t.Fatal(err)
	}
	env := []string{"RESTIC_REPOSITORY=" + repo}
	var snaps []struct {
		Hostname string `json:"hostname"`
	}
	out := cairn(t, env, "snapshots", "--insecure-no-password", "--json")
	if err := json.Unmarshal([]byte(out), &snaps); err != nil || len(snaps) != 1 || snaps[0].Hostname != "fixture-host" {
		t.Fatalf("snapshots: %v %s", err, out)
	}
	if out := cairn(t, env, "ls", "latest", "--insecure-no-password"); !strings.Contains(out, "/hello.txt\n") {
		t.Errorf("ls: %s", out)
	}
	if out := cairn(t, env, "dump", "latest", "/hello.txt", "--insecure-no-password"); out != "hello insecure\n" {
		t.Errorf("dump: %q", out)
	}
	// Without the flag an empty password is refused; with it and a
	// password as well, too (restic: both exit 1).
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"empty stdin", env, nil, "an empty password is not allowed by default"},
		{"empty variable", append(env, "RESTIC_PASSWORD="), nil, "an empty password is not allowed by default"},
		{"flag and password", append(env, "RESTIC_PASSWORD=x"), []string{"--insecure-no-password"}, "must not be specified together"},
	} {
		res := run(t, c.env, cairnBin, append([]string{"snapshots"}, c.args...)...)
		if res.code != 1 || !strings.Contains(res.stderr, c.want) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
			t.Errorf("%s: %v, want exit 1 and one line with %q", c.name, res, c.want)
		}
	}
	// An empty variable does not count as a password given.
	cairn(t, append(env, "RESTIC_PASSWORD="), "snapshots", "--insecure-no-password")
}

// TestInsecureNoPasswordInitBackup makes a repository without password
// with cairn, backs up into it and lists it; a restic that knows the flag
// (0.17 or later: $RESTIC_BIN, or restic 0.19.1 in the shared tools
// beside the checkout) then reads and checks the same repository. Debian's
// restic 0.14 cannot open such a repository at all.
func TestInsecureNoPasswordInitBackup(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a/b.txt", "bravo\n")
	env := []string{"RESTIC_REPOSITORY=" + repo}
	var created struct {
		MessageType string `json:"message_type"`
		ID          string `json:"id"`
		Repository  string `json:"repository"`
	}
	out := cairn(t, env, "init", "--insecure-no-password", "--json")
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.MessageType != "initialized" || len(created.ID) != 64 || created.Repository != repo {
		t.Fatalf("init --json: %v %q", err, out)
	}
	cairnIn(t, src, env, "backup", "--insecure-no-password", "-q", ".")
	out = cairn(t, env, "snapshots", "--insecure-no-password", "--json")
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &snaps); err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %v %q", err, out)
	}
	bin := restic019(t)
	if bin == "" {
		t.Log("no restic >= 0.17 found: the repository is checked by cairn only (TestInsecureNoPasswordReadsResticRepo covers restic's side)")
		return
	}
	rs := run(t, env, bin, "snapshots", "--insecure-no-password", "--json")
	if rs.code != 0 || !strings.Contains(rs.stdout, snaps[0].ID) {
		t.Fatalf("restic snapshots: %v", rs)
	}
	if rs := run(t, env, bin, "check", "--insecure-no-password", "--read-data"); rs.code != 0 {
		t.Fatalf("restic check: %v", rs)
	}
	if rs := run(t, env, bin, "dump", "--insecure-no-password", "latest", "/a/b.txt"); rs.code != 0 || rs.stdout != "bravo\n" {
		t.Fatalf("restic dump: %v", rs)
	}
}

// TestKeyAddNewInsecureNoPassword: key add --new-insecure-no-password adds
// a key with the empty password, which --insecure-no-password then opens;
// key list --json marks it as the one in use, with the given user and host.
func TestKeyAddNewInsecureNoPassword(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	cairn(t, env, "key", "add", "--new-insecure-no-password", "--user", "uu", "--host", "hh")
	noPw := []string{"RESTIC_REPOSITORY=" + repo}
	var keys []struct {
		Current  bool   `json:"current"`
		ID       string `json:"id"`
		UserName string `json:"userName"`
		HostName string `json:"hostName"`
		Created  string `json:"created"`
	}
	out := cairn(t, noPw, "key", "list", "--insecure-no-password", "--json")
	if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) != 2 {
		t.Fatalf("key list --json: %v %s", err, out)
	}
	for _, k := range keys {
		if k.Current != (k.UserName == "uu" && k.HostName == "hh") || len(k.ID) != 64 || len(k.Created) != len("2006-01-02 15:04:05") {
			t.Errorf("key %+v", k)
		}
	}
	if bin := restic019(t); bin != "" {
		if rs := run(t, noPw, bin, "key", "list", "--insecure-no-password", "--json"); rs.code != 0 || !strings.Contains(rs.stdout, `"userName":"uu"`) {
			t.Errorf("restic key list: %v", rs)
		}
	}
}

// TestInitFromRepositoryFile: init --copy-chunker-params reads the source
// location from --from-repository-file and opens it with
// --from-insecure-no-password; without a source location it fails as
// restic does, and so does an unknown --repository-version.
func TestInitFromRepositoryFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	cairn(t, []string{"RESTIC_REPOSITORY=" + src}, "init", "--insecure-no-password")
	locFile := writeFile(t, dir, "loc", src+"\n")
	dst := repoEnv(filepath.Join(dir, "dst"), "pw")
	cairn(t, dst, "init", "--copy-chunker-params", "--from-repository-file", locFile, "--from-insecure-no-password")
	var a, b struct {
		Poly string `json:"chunker_polynomial"`
	}
	mustJSON(t, cairn(t, []string{"RESTIC_REPOSITORY=" + src}, "cat", "config", "--insecure-no-password"), &a)
	mustJSON(t, cairn(t, dst, "cat", "config"), &b)
	if a.Poly == "" || a.Poly != b.Poly {
		t.Errorf("polynomials: source %q, new %q", a.Poly, b.Poly)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--copy-chunker-params"}, "please specify a source repository location (--from-repo or --from-repository-file)"},
		{[]string{"--repository-version", "3"}, "only repository versions between 1 and 2 are allowed"},
	} {
		env := repoEnv(filepath.Join(dir, "x"), "pw")
		res := run(t, env, cairnBin, append([]string{"init"}, c.args...)...)
		if res.code != 1 || !strings.Contains(res.stderr, c.want) {
			t.Errorf("init %v: %v, want exit 1 and %q", c.args, res, c.want)
		}
	}
}
