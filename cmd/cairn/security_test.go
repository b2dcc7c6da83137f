package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestFileModesAndSecrets: repository files are 0400 and directories
// 0700 as restic makes them, the cache is 0700, and the password appears
// in no output, no debug log, and neither the environment nor the command
// line of a child process (rclone, here a wrapper that records both).
func TestFileModesAndSecrets(t *testing.T) {
	rclone := testservers.Rclone(t)
	const pw = "pw-that-must-not-leak-4711"
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	cache := filepath.Join(dir, "cache")
	debugLog := filepath.Join(dir, "debug.log")
	env := append(repoEnv(repo, pw), "RESTIC_CACHE_DIR="+cache, "CAIRN_DEBUG_LOG="+debugLog)
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a", "some data")

	var out strings.Builder
	for _, args := range [][]string{{"init"}, {"backup", "-vv", src}, {"backup", "--json", src}, {"snapshots", "--json"}, {"check", "--read-data"}} {
		res := run(t, env, cairnBin, args...)
		if res.code != 0 {
			t.Fatalf("cairn %v: %v", args, res)
		}
		out.WriteString(res.stdout + res.stderr)
	}
	wrong := run(t, append(repoEnv(repo, pw+"-wrong"), "RESTIC_CACHE_DIR="+cache), cairnBin, "snapshots")
	out.WriteString(wrong.stdout + wrong.stderr)
	logText, err := os.ReadFile(debugLog)
	must(t, err)
	if len(logText) == 0 {
		t.Fatal("the debug log is empty: the test does not look at anything")
	}
	for name, text := range map[string]string{"output": out.String(), "debug log": string(logText)} {
		if strings.Contains(text, pw) {
			t.Errorf("the password appears in the %s", name)
		}
	}

	must(t, filepath.WalkDir(repo, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o400)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	}))
	must(t, filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() && fi.Mode().Perm() != 0o700 {
			t.Errorf("cache %s: mode %v, want 0700", p, fi.Mode().Perm())
		}
		if !d.IsDir() && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("cache %s: mode %v, readable by others", p, fi.Mode().Perm())
		}
		return nil
	}))

	// A child process (rclone) gets neither the password nor its file.
	record := filepath.Join(dir, "child.txt")
	wrapper := writeFile(t, dir, "rclone-wrapper", "#!/bin/sh\n{ env; echo \"ARGS: $*\"; } > "+record+"\nexec "+rclone+" \"$@\"\n")
	must(t, os.Chmod(wrapper, 0o700))
	rrepo := filepath.Join(dir, "rrepo")
	renv := append(repoEnv("rclone:"+rrepo, pw), "RESTIC_CACHE_DIR="+cache, "RCLONE_CONFIG="+writeFile(t, dir, "rclone.conf", ""))
	cairn(t, renv, "-o", "rclone.program="+wrapper, "init")
	child, err := os.ReadFile(record)
	must(t, err)
	if !strings.Contains(string(child), "ARGS: serve restic --stdio") {
		t.Fatalf("the wrapper did not record rclone's start:\n%s", child)
	}
	if strings.Contains(string(child), pw) || strings.Contains(string(child), "RESTIC_PASSWORD") {
		t.Errorf("the child process got the password:\n%s", child)
	}
}
