package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebugLog checks that $CAIRN_DEBUG_LOG (and restic's $DEBUG_LOG)
// collects lines naming the backend operations, the repository, cache and
// lock, that --debug writes them to stderr, and that without either
// nothing is logged.
func TestDebugLog(t *testing.T) {
	dir := t.TempDir()
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init")
	src := t.TempDir()
	writeFile(t, src, "a.txt", "hello debug log")

	logFile := filepath.Join(dir, "debug.log")
	cairn(t, append(env, "CAIRN_DEBUG_LOG="+logFile), "backup", src)
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("no debug log: %v", err)
	}
	log := string(raw)
	for _, want := range []string{
		`msg="backend load" handle=config`,
		`msg="backend list" type=keys`,
		`msg="backend save" handle=snapshots/`,
		`msg="backend move" handle=data/`,
		`msg="repository opened"`,
		`msg="cache opened"`,
		`msg="lock acquired"`,
		`msg="lock released"`,
		"duration=",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("debug log lacks %q:\n%s", want, log)
		}
	}

	restic := filepath.Join(dir, "restic.log")
	cairn(t, append(env, "DEBUG_LOG="+restic), "snapshots")
	if raw, err := os.ReadFile(restic); err != nil || !strings.Contains(string(raw), `msg="backend list" type=snapshots`) {
		t.Errorf("DEBUG_LOG: %v\n%s", err, raw)
	}

	res := run(t, env, cairnBin, "--debug", "snapshots")
	if res.code != 0 || !strings.Contains(res.stderr, `msg="backend list" type=snapshots`) {
		t.Errorf("--debug wrote no backend lines to stderr: %v", res)
	}

	res = run(t, env, cairnBin, "snapshots")
	if res.code != 0 || strings.Contains(res.stderr, "msg=") {
		t.Errorf("without debug logging: %v", res)
	}
	res = run(t, env, cairnBin, "backup", src)
	if res.code != 0 || strings.Contains(res.stderr, "msg=") || strings.Contains(res.stdout, "msg=") {
		t.Errorf("without debug logging: %v", res)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "repo" && e.Name() != "debug.log" && e.Name() != "restic.log" {
			t.Errorf("unexpected file %s", e.Name())
		}
	}
	if after, _ := os.ReadFile(logFile); string(after) != log {
		t.Errorf("debug log grew without CAIRN_DEBUG_LOG set")
	}
}
