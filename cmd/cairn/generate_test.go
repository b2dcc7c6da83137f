package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerate writes the man pages and every completion script and checks
// that they are well-formed: one roff page per command that man can
// render, a bash script that bash parses, the others with their shells'
// headers; "-" writes to stdout; nothing to do is an error.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	man := filepath.Join(dir, "man")
	if err := os.Mkdir(man, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"bash-completion":       filepath.Join(dir, "cairn.bash"),
		"zsh-completion":        filepath.Join(dir, "_cairn"),
		"fish-completion":       filepath.Join(dir, "cairn.fish"),
		"powershell-completion": filepath.Join(dir, "cairn.ps1"),
	}
	args := []string{"generate", "--man", man}
	for flag, file := range files {
		args = append(args, "--"+flag, file)
	}
	cairn(t, nil, args...)
	for _, page := range []string{"cairn.1", "cairn-ls.1", "cairn-snapshots.1", "cairn-key-list.1", "cairn-generate.1"} {
		b, err := os.ReadFile(filepath.Join(man, page))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), `.nh`) || !strings.Contains(string(b), `.TH "CAIRN" "1"`) || !strings.Contains(string(b), ".SH NAME") {
			t.Errorf("%s is not a man page:\n%.300s", page, b)
		}
	}
	if out, err := exec.Command("man", "-l", "-P", "cat", filepath.Join(man, "cairn-ls.1")).CombinedOutput(); err == nil {
		if !strings.Contains(string(out), "cairn-ls - List the files in a snapshot") || !strings.Contains(string(out), "EXIT STATUS") {
			t.Errorf("man -l cairn-ls.1:\n%s", out)
		}
	} else if _, lookErr := exec.LookPath("man"); lookErr == nil {
		t.Errorf("man -l cairn-ls.1: %v\n%s", err, out)
	}
	if out, err := exec.Command("bash", "-n", files["bash-completion"]).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
	for flag, want := range map[string]string{
		"bash-completion":       "# bash completion V2 for cairn",
		"zsh-completion":        "#compdef cairn",
		"fish-completion":       "# fish completion for cairn",
		"powershell-completion": "# powershell completion for cairn",
	} {
		b, err := os.ReadFile(files[flag])
		if err != nil || !strings.HasPrefix(string(b), want) {
			t.Errorf("--%s: %v, starts %.60q, want %q", flag, err, b, want)
		}
		if out := cairn(t, nil, "generate", "--"+flag, "-"); out != string(b) {
			t.Errorf("--%s -: stdout differs from the file", flag)
		}
	}
	res := run(t, nil, cairnBin, "generate")
	if res.code != 1 || !strings.Contains(res.stderr, "nothing to do") {
		t.Errorf("generate without options: %v", res)
	}
}

// TestUnknownCommandLikeRestic: an unknown command is reported as restic
// does, the suggestions on lines of their own, exit 1.
func TestUnknownCommandLikeRestic(t *testing.T) {
	for _, name := range []string{"snapshotz", "zzzzzz"} {
		want := run(t, nil, resticBin(t), name)
		got := run(t, nil, cairnBin, name)
		if got.code != want.code || strings.ReplaceAll(got.stderr, "cairn", "restic") != want.stderr || got.stdout != "" {
			t.Errorf("cairn %s: %v\nrestic: %v", name, got, want)
		}
	}
}
