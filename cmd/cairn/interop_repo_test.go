package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type configJSON struct {
	Version           int    `json:"version"`
	ID                string `json:"id"`
	ChunkerPolynomial string `json:"chunker_polynomial"`
}

func parseConfig(t *testing.T, out string) configJSON {
	t.Helper()
	var c configJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("config output %q: %v", out, err)
	}
	return c
}

// TestResticOpensCairnRepository: restic reads what cairn init wrote.
func TestResticOpensCairnRepository(t *testing.T) {
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			env := repoEnv(repo, "cairn-secret")
			cairn(t, env, "init", "--repository-version", version)

			got := parseConfig(t, restic(t, env, "cat", "config"))
			want := parseConfig(t, cairn(t, env, "cat", "config"))
			if got != want {
				t.Errorf("restic cat config = %+v, want %+v", got, want)
			}
			if got.Version != int(version[0]-'0') {
				t.Errorf("version = %d, want %s", got.Version, version)
			}
			keys := restic(t, env, "key", "list")
			if !strings.Contains(keys, "*") {
				t.Errorf("restic key list shows no current key:\n%s", keys)
			}
			restic(t, env, "snapshots")
			restic(t, env, "check")
		})
	}
}

// TestCairnOpensResticRepository: cairn reads what restic init wrote, for
// both repository versions.
func TestCairnOpensResticRepository(t *testing.T) {
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			env := repoEnv(repo, "restic-secret")
			restic(t, env, "init", "--repository-version", version)

			got := parseConfig(t, cairn(t, env, "cat", "config"))
			want := parseConfig(t, restic(t, env, "cat", "config"))
			if got != want {
				t.Errorf("cairn cat config = %+v, want %+v", got, want)
			}
			var gotKey, wantKey map[string]any
			mustJSON(t, cairn(t, env, "cat", "masterkey"), &gotKey)
			mustJSON(t, restic(t, env, "cat", "masterkey"), &wantKey)
			if !jsonEqual(gotKey, wantKey) {
				t.Errorf("cairn cat masterkey = %v, want %v", gotKey, wantKey)
			}
			for _, kind := range []string{"keys", "snapshots", "index", "packs", "locks"} {
				if got, want := sortedLines(cairn(t, env, "list", kind)), sortedLines(restic(t, env, "--no-lock", "list", kind)); !slices.Equal(got, want) {
					t.Errorf("cairn list %s = %v, want %v", kind, got, want)
				}
			}
		})
	}
}

// TestKeysWorkAcrossTools: a key cairn adds opens the repository in restic
// and the reverse; passwd and remove keep the repository usable.
func TestKeysWorkAcrossTools(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "first")
	cairn(t, env, "init")

	cairnPw := writeFile(t, dir, "cairn-pw", "from-cairn\n")
	cairn(t, env, "key", "add", "--new-password-file", cairnPw, "--user", "alice", "--host", "box")
	restic(t, repoEnv(repo, "from-cairn"), "cat", "config")
	if out := restic(t, env, "key", "list"); !strings.Contains(out, "alice") || !strings.Contains(out, "box") {
		t.Errorf("restic key list lacks the user and host cairn recorded:\n%s", out)
	}

	resticPw := writeFile(t, dir, "restic-pw", "from-restic\n")
	restic(t, env, "key", "add", "--new-password-file", resticPw)
	cairn(t, repoEnv(repo, "from-restic"), "cat", "config")

	// passwd replaces the key in use; the old password stops working.
	newPw := writeFile(t, dir, "new-pw", "changed")
	cairn(t, repoEnv(repo, "from-restic"), "key", "passwd", "--new-password-file", newPw)
	restic(t, repoEnv(repo, "changed"), "cat", "config")
	if res := run(t, repoEnv(repo, "from-restic"), cairnBin, "cat", "config"); res.code != 12 {
		t.Errorf("old password after passwd: %v, want exit 12", res)
	}

	// remove the key cairn added, by ID prefix; refuse to remove our own.
	var aliceID string
	for _, line := range strings.Split(cairn(t, env, "key", "list"), "\n") {
		if strings.Contains(line, "alice") {
			aliceID = strings.Trim(strings.Fields(line)[0], "*")
		}
	}
	if aliceID == "" {
		t.Fatal("alice's key not listed")
	}
	cairn(t, env, "key", "remove", aliceID)
	if res := run(t, repoEnv(repo, "from-cairn"), resticBin(t), "cat", "config"); res.code == 0 {
		t.Errorf("restic still opens with a removed key: %v", res)
	}
	current := ""
	for _, line := range strings.Split(cairn(t, env, "key", "list"), "\n") {
		if strings.HasPrefix(line, "*") {
			current = strings.Fields(line)[0][1:]
		}
	}
	if res := run(t, env, cairnBin, "key", "remove", current); res.code != 1 || !strings.Contains(res.stderr, "in use") {
		t.Errorf("removing the current key: %v, want exit 1 and a refusal", res)
	}
	restic(t, env, "check")
}

// TestCopyChunkerParams: init --copy-chunker-params takes the polynomial of
// a restic repository.
func TestCopyChunkerParams(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	resticInit(t, repoEnv(src, "src-pw"))
	dst := filepath.Join(dir, "dst")
	cairn(t, append(repoEnv(dst, "dst-pw"), "RESTIC_FROM_PASSWORD=src-pw"),
		"init", "--copy-chunker-params", "--from-repo", src)
	a := parseConfig(t, restic(t, repoEnv(src, "src-pw"), "cat", "config"))
	b := parseConfig(t, restic(t, repoEnv(dst, "dst-pw"), "cat", "config"))
	if a.ChunkerPolynomial != b.ChunkerPolynomial || a.ID == b.ID {
		t.Errorf("copied config = %+v, source %+v: want same polynomial, different id", b, a)
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}
