package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// repoID returns the ID of the repository env names.
func repoID(t *testing.T, env []string) string {
	t.Helper()
	var cfg struct {
		ID string `json:"id"`
	}
	must(t, json.Unmarshal([]byte(cairn(t, env, "cat", "config")), &cfg))
	return cfg.ID
}

// cacheDirs lists the repository cache directories under base.
func cacheDirs(t *testing.T, base string) []string {
	t.Helper()
	entries, _ := os.ReadDir(base)
	var ids []string
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 64 {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// TestGlobalDefaultCacheShared: with no cache variable set, cairn uses
// restic's default cache directory ($XDG_CACHE_HOME/restic, else
// ~/.cache/restic), so restic and cairn with the same HOME share it: each
// finds and lists the directory the other made.
func TestGlobalDefaultCacheShared(t *testing.T) {
	for _, xdg := range []bool{false, true} {
		home := t.TempDir()
		base := filepath.Join(home, ".cache", "restic")
		extra := []string{"HOME=" + home, "RESTIC_CACHE_DIR="}
		if xdg {
			x := filepath.Join(t.TempDir(), "xdg")
			extra = append(extra, "XDG_CACHE_HOME="+x)
			base = filepath.Join(x, "restic")
		}
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		envA, envB := append(repoEnv(a, "pw"), extra...), append(repoEnv(b, "pw"), extra...)
		cairn(t, envA, "init")
		resticInit(t, envB)
		idA, idB := repoID(t, envA), repoID(t, envB)
		writeFile(t, dir, "src/f", "x")

		// restic makes the directory of b, cairn that of a, each in the
		// same place.
		restic(t, envB, "backup", filepath.Join(dir, "src"))
		cairn(t, envA, "backup", filepath.Join(dir, "src"))
		got := cacheDirs(t, base)
		slices.Sort(got)
		want := []string{idA, idB}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("xdg=%v: cache directories in %s = %v, want %v", xdg, base, got, want)
		}
		// Each lists both.
		for name, out := range map[string]string{"cairn": cairn(t, envA, "cache", "--no-size"), "restic": restic(t, envA, "cache", "--no-size")} {
			if !strings.Contains(out, idA[:10]) || !strings.Contains(out, idB[:10]) {
				t.Errorf("xdg=%v: %s cache does not list both directories:\n%s", xdg, name, out)
			}
		}
		// cairn reads what restic cached: the snapshot file is there.
		if _, err := os.Stat(filepath.Join(base, idB, "snapshots")); err != nil {
			t.Errorf("restic's cache of b has no snapshots: %v", err)
		}
		cairn(t, envB, "snapshots")
		if got := cacheDirs(t, base); len(got) != 2 {
			t.Errorf("cairn made another cache directory: %v", got)
		}
	}
}

// TestGlobalCacheDirPrecedence: --cache-dir beats $CAIRN_CACHE_DIR, which
// beats $RESTIC_CACHE_DIR, which beats the default.
func TestGlobalCacheDirPrecedence(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	home := t.TempDir()
	flag, cairnDir, resticDir := filepath.Join(dir, "flag"), filepath.Join(dir, "cairn"), filepath.Join(dir, "restic")
	base := append(repoEnv(repo, "pw"), "HOME="+home, "RESTIC_CACHE_DIR=")
	cairn(t, base, "init")
	id := repoID(t, base)
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"CAIRN_CACHE_DIR=" + cairnDir, "RESTIC_CACHE_DIR=" + resticDir}, []string{"--cache-dir", flag}, flag},
		{[]string{"CAIRN_CACHE_DIR=" + cairnDir, "RESTIC_CACHE_DIR=" + resticDir}, nil, cairnDir},
		{[]string{"RESTIC_CACHE_DIR=" + resticDir}, nil, resticDir},
		{nil, nil, filepath.Join(home, ".cache", "restic")},
	}
	for _, c := range cases {
		for _, d := range []string{flag, cairnDir, resticDir, filepath.Join(home, ".cache")} {
			must(t, os.RemoveAll(d))
		}
		cairn(t, append(slices.Clone(base), c.env...), append(c.args, "snapshots")...)
		if _, err := os.Stat(filepath.Join(c.want, id)); err != nil {
			t.Errorf("env %v, args %v: no cache in %s: %v", c.env, c.args, c.want, err)
		}
	}
}

// TestGlobalResticHost: $RESTIC_HOST (or $CAIRN_HOST) is the host a backup
// records and the default host filter of the commands that pick
// snapshots; --host "" clears the filter, as in restic 0.19.1.
func TestGlobalResticHost(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	writeFile(t, dir, "src/f", "x")
	src := filepath.Join(dir, "src")
	cairn(t, append(env, "RESTIC_HOST=alpha"), "backup", src)
	cairn(t, append(env, "CAIRN_HOST=beta", "RESTIC_HOST=alpha"), "backup", src)
	cairn(t, append(env, "RESTIC_HOST=alpha"), "backup", "--host", "gamma", src)

	hosts := func(extra []string, args ...string) []string {
		t.Helper()
		var snaps []struct {
			Hostname string `json:"hostname"`
		}
		must(t, json.Unmarshal([]byte(cairn(t, append(slices.Clone(env), extra...), append([]string{"snapshots", "--json"}, args...)...)), &snaps))
		var hs []string
		for _, s := range snaps {
			hs = append(hs, s.Hostname)
		}
		slices.Sort(hs)
		return hs
	}
	cases := []struct {
		env  []string
		args []string
		want []string
	}{
		{nil, nil, []string{"alpha", "beta", "gamma"}},
		{[]string{"RESTIC_HOST=alpha"}, nil, []string{"alpha"}},
		{[]string{"CAIRN_HOST=beta"}, nil, []string{"beta"}},
		{[]string{"RESTIC_HOST=alpha"}, []string{"--host", "gamma"}, []string{"gamma"}},
		{[]string{"RESTIC_HOST=alpha"}, []string{"--host", ""}, []string{"alpha", "beta", "gamma"}},
	}
	r19 := restic019(t)
	for _, c := range cases {
		if got := hosts(c.env, c.args...); !slices.Equal(got, c.want) {
			t.Errorf("env %v, args %v: hosts %v, want %v", c.env, c.args, got, c.want)
		}
		if r19 == "" || slices.ContainsFunc(c.env, func(s string) bool { return strings.HasPrefix(s, "CAIRN_") }) {
			continue
		}
		res := run(t, append(slices.Clone(env), c.env...), r19, append([]string{"snapshots", "--json"}, c.args...)...)
		var snaps []struct {
			Hostname string `json:"hostname"`
		}
		must(t, json.Unmarshal([]byte(res.stdout), &snaps))
		if len(snaps) != len(c.want) {
			t.Errorf("restic 0.19.1 with env %v, args %v: %d snapshots, want %d", c.env, c.args, len(snaps), len(c.want))
		}
	}
}

// TestGlobalResticFlagsAccepted: restic's global flags that change
// nothing for a local repository are accepted, before or after the
// command.
func TestGlobalResticFlagsAccepted(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	for _, args := range [][]string{
		{"--no-extra-verify", "--insecure-tls", "--stuck-request-timeout", "1m", "--http-user-agent", "x/1", "snapshots"},
		{"snapshots", "--pack-size", "32", "--no-extra-verify"},
		{"--pack-size", "64", "check"},
	} {
		if res := run(t, env, cairnBin, args...); res.code != 0 {
			t.Errorf("cairn %v: %v", args, res)
		}
	}
}

// TestGlobalEnvIntoOptions: the variables other commands read through
// globalOptions, with the CAIRN_ name first and bad values ignored as
// restic ignores them.
func TestGlobalEnvIntoOptions(t *testing.T) {
	cases := []struct {
		env     map[string]string
		fps     float64
		conc    uint
		pack    uint
		tlsCert string
	}{
		{map[string]string{}, 0, 0, 0, ""},
		{map[string]string{"RESTIC_PROGRESS_FPS": "0.5", "RESTIC_READ_CONCURRENCY": "8", "RESTIC_PACK_SIZE": "32", "RESTIC_TLS_CLIENT_CERT": "/r.pem"}, 0.5, 8, 32, "/r.pem"},
		{map[string]string{"CAIRN_PROGRESS_FPS": "2", "RESTIC_PROGRESS_FPS": "0.5", "CAIRN_READ_CONCURRENCY": "3", "RESTIC_READ_CONCURRENCY": "8", "CAIRN_TLS_CLIENT_CERT": "/c.pem", "RESTIC_TLS_CLIENT_CERT": "/r.pem"}, 2, 3, 0, "/c.pem"},
		{map[string]string{"RESTIC_PROGRESS_FPS": "fast", "RESTIC_READ_CONCURRENCY": "-1", "RESTIC_PACK_SIZE": "big"}, 0, 0, 0, ""},
	}
	vars := []string{"PROGRESS_FPS", "READ_CONCURRENCY", "PACK_SIZE", "TLS_CLIENT_CERT"}
	for _, c := range cases {
		for _, v := range vars {
			t.Setenv("CAIRN_"+v, c.env["CAIRN_"+v])
			t.Setenv("RESTIC_"+v, c.env["RESTIC_"+v])
		}
		g := &globalOptions{}
		g.addFlags(&cobra.Command{Use: "x"})
		if g.ProgressFPS != c.fps || g.ReadConcurrency != c.conc || g.PackSize != c.pack || g.TLSClientCert != c.tlsCert {
			t.Errorf("env %v: fps %v, read concurrency %d, pack size %d, client cert %q; want %v, %d, %d, %q",
				c.env, g.ProgressFPS, g.ReadConcurrency, g.PackSize, g.TLSClientCert, c.fps, c.conc, c.pack, c.tlsCert)
		}
	}
}

// TestGlobalFromRepositoryHelpers: the source repository of copy and init
// comes from the flags, then $CAIRN_FROM_*, then $RESTIC_FROM_*, as
// restic reads RESTIC_FROM_REPOSITORY(_FILE) and the FROM_ passwords.
func TestGlobalFromRepositoryHelpers(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "loc", " /from/file \n")
	pwFile := writeFile(t, dir, "pw", "filepw\n")
	for _, v := range []string{"FROM_REPOSITORY", "FROM_REPOSITORY_FILE", "FROM_PASSWORD", "FROM_PASSWORD_FILE", "FROM_PASSWORD_COMMAND", "FROM_KEY_HINT"} {
		t.Setenv("CAIRN_"+v, "")
		t.Setenv("RESTIC_"+v, "")
	}
	t.Setenv("RESTIC_FROM_REPOSITORY", "/from/restic")
	if got, _ := fromRepository("", ""); got != "/from/restic" {
		t.Errorf("RESTIC_FROM_REPOSITORY: %q", got)
	}
	t.Setenv("CAIRN_FROM_REPOSITORY", "/from/cairn")
	if got, _ := fromRepository("", ""); got != "/from/cairn" {
		t.Errorf("CAIRN_FROM_REPOSITORY: %q", got)
	}
	if got, _ := fromRepository("", file); got != "/from/file" {
		t.Errorf("--from-repository-file: %q", got)
	}
	if got, _ := fromRepository("/from/flag", ""); got != "/from/flag" {
		t.Errorf("--from-repo: %q", got)
	}
	if _, err := fromRepository("/a", file); err == nil {
		t.Error("--from-repo and --from-repository-file together: no error")
	}
	t.Setenv("CAIRN_FROM_REPOSITORY", "")
	t.Setenv("RESTIC_FROM_REPOSITORY", "")
	t.Setenv("RESTIC_FROM_REPOSITORY_FILE", file)
	if got, _ := fromRepository("", ""); got != "/from/file" {
		t.Errorf("RESTIC_FROM_REPOSITORY_FILE: %q", got)
	}

	t.Setenv("RESTIC_FROM_PASSWORD", "envpw")
	if pw, err := fromPassword(t.Context(), "", "", false); pw != "envpw" || err != nil {
		t.Errorf("RESTIC_FROM_PASSWORD: %q, %v", pw, err)
	}
	if pw, err := fromPassword(t.Context(), pwFile, "", false); pw != "filepw" || err != nil {
		t.Errorf("--from-password-file: %q, %v", pw, err)
	}
	if _, err := fromPassword(t.Context(), "", "", true); err == nil || !strings.Contains(err.Error(), "--from-insecure-no-password must not be specified") {
		t.Errorf("--from-insecure-no-password with a password: %v", err)
	}
	t.Setenv("RESTIC_FROM_PASSWORD", "")
	if pw, err := fromPassword(t.Context(), "", "", true); pw != "" || err != nil {
		t.Errorf("--from-insecure-no-password: %q, %v", pw, err)
	}
	t.Setenv("RESTIC_FROM_KEY_HINT", "abc")
	if got := fromKeyHint(""); got != "abc" {
		t.Errorf("RESTIC_FROM_KEY_HINT: %q", got)
	}
	if got := fromKeyHint("def"); got != "def" {
		t.Errorf("--from-key-hint: %q", got)
	}
}
