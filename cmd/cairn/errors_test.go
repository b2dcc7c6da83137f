package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oneLine fails unless the process printed exactly one line on stderr
// that contains every want.
func oneLine(t *testing.T, res result, code int, want ...string) {
	t.Helper()
	if res.code != code {
		t.Errorf("exit code = %d, want %d\n%v", res.code, code, res)
	}
	lines := strings.Split(strings.TrimRight(res.stderr, "\n"), "\n")
	if len(lines) != 1 {
		t.Errorf("stderr has %d lines, want 1:\n%s", len(lines), res.stderr)
	}
	for _, w := range want {
		if !strings.Contains(res.stderr, w) {
			t.Errorf("stderr = %q, want it to contain %q", res.stderr, w)
		}
	}
}

func TestWrongPasswordWritesNothing(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	cairn(t, repoEnv(repo, "right"), "init")
	before := treeState(t, repo)
	for _, args := range [][]string{{"cat", "config"}, {"key", "list"}, {"list", "snapshots"}, {"key", "add"}} {
		res := run(t, repoEnv(repo, "wrong"), cairnBin, args...)
		oneLine(t, res, 12, "wrong password or no key found")
	}
	if after := treeState(t, repo); after != before {
		t.Errorf("repository changed after wrong passwords:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestMissingRepository(t *testing.T) {
	dir := t.TempDir()
	for name, repo := range map[string]string{
		"no directory": filepath.Join(dir, "nothing-here"),
		"empty dir":    dir,
	} {
		t.Run(name, func(t *testing.T) {
			res := run(t, repoEnv(repo, "pw"), cairnBin, "cat", "config")
			oneLine(t, res, 10, repo, "does not exist")
		})
	}
}

func TestPasswordSources(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	cairn(t, repoEnv(repo, "right"), "init")
	right := writeFile(t, dir, "right", "  right \n")
	wrong := writeFile(t, dir, "wrong", "wrong\n")
	r := "RESTIC_REPOSITORY=" + repo
	cases := []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"flag file beats environment", []string{r, "CAIRN_PASSWORD=wrong"}, []string{"--password-file", right}, 0},
		{"flag command", []string{r}, []string{"--password-command", "echo right"}, 0},
		{"CAIRN beats RESTIC", []string{r, "CAIRN_PASSWORD=right", "RESTIC_PASSWORD=wrong"}, nil, 0},
		{"CAIRN file beats RESTIC", []string{r, "CAIRN_PASSWORD_FILE=" + right, "RESTIC_PASSWORD=wrong"}, nil, 0},
		{"RESTIC file", []string{r, "RESTIC_PASSWORD_FILE=" + right}, nil, 0},
		{"RESTIC command", []string{r, "RESTIC_PASSWORD_COMMAND=printf right"}, nil, 0},
		{"CAIRN_REPOSITORY beats RESTIC_REPOSITORY", []string{"CAIRN_REPOSITORY=" + repo, "RESTIC_REPOSITORY=" + dir, "CAIRN_PASSWORD=right"}, nil, 0},
		{"flag file wrong", []string{r, "CAIRN_PASSWORD=right"}, []string{"--password-file", wrong}, 12},
		{"no password, no terminal", []string{r}, nil, 1},
		{"no repository", []string{"CAIRN_PASSWORD=right"}, nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := run(t, c.env, cairnBin, append(c.args, "cat", "config")...)
			if res.code != c.code {
				t.Errorf("exit code = %d, want %d\n%v", res.code, c.code, res)
			}
		})
	}
}

func TestInitRefusesExistingRepository(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	restic(t, repoEnv(repo, "pw"), "init")
	res := run(t, repoEnv(repo, "pw"), cairnBin, "init")
	oneLine(t, res, 1, "already")
}

// damage rewrites a repository file (read-only once written).
func damage(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func configPath(_ *testing.T, repo string) string { return filepath.Join(repo, "config") }

func onlyKey(t *testing.T, repo string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repo, "keys"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("want one key file: %v %v", entries, err)
	}
	return filepath.Join(repo, "keys", entries[0].Name())
}

func TestCorruptKeyAndConfig(t *testing.T) {
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i%len(b)] ^= 0x20; return b }
	}
	cases := []struct {
		name   string
		target func(t *testing.T, repo string) string
		change func([]byte) []byte
		code   int
		want   string
	}{
		{"key truncated", onlyKey, func(b []byte) []byte { return b[:len(b)/2] }, 12, "does not match its name"},
		{"key byte flipped", onlyKey, flip(300), 12, "does not match its name"},
		{"config byte flipped", configPath, flip(40), 1, "config"},
		{"config truncated", configPath, func(b []byte) []byte { return b[:10] }, 1, "config"},
		{"config empty", configPath, func([]byte) []byte { return nil }, 1, "config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			cairn(t, repoEnv(repo, "pw"), "init")
			damage(t, c.target(t, repo), c.change)
			res := run(t, repoEnv(repo, "pw"), cairnBin, "cat", "config")
			oneLine(t, res, c.code, c.want)
		})
	}

	// A key file whose name matches its (bad) content gets past the hash
	// check and must be rejected by the decoder.
	t.Run("key file valid name, bad content", func(t *testing.T) {
		repo := filepath.Join(t.TempDir(), "repo")
		cairn(t, repoEnv(repo, "pw"), "init")
		old := onlyKey(t, repo)
		content := []byte(`{"kdf":"scrypt","N":3,"r":8,"p":1,"salt":"","data":""}`)
		sum := sha256.Sum256(content)
		if err := os.WriteFile(filepath.Join(repo, "keys", hex.EncodeToString(sum[:])), content, 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(old); err != nil {
			t.Fatal(err)
		}
		res := run(t, repoEnv(repo, "pw"), cairnBin, "cat", "config")
		oneLine(t, res, 12, "key file")
	})
}
