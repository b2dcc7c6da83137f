package filter_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestResticAgrees runs `restic backup --dry-run -vv` for every case of
// matchCases on a tree that holds the case's path (under a temporary root
// that anchored patterns are moved under too), and checks that restic saves
// exactly what a walk that skips every path Match reports would save.
func TestResticAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("starts restic once per case")
	}
	bin := resticBin(t)
	base := t.TempDir()
	env := resticRepo(t, base)

	for i, c := range matchCases {
		if c.path == "/" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			if why, ok := resticDiffers[c.name]; ok {
				t.Skipf("restic 0.14 differs on purpose: %s", why)
			}
			t.Parallel()
			root := filepath.Join(base, fmt.Sprintf("case%03d", i))
			file := root + c.path
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			flag := "--exclude="
			if c.fold {
				flag = "--iexclude="
			}
			var patterns []string
			args := []string{"backup", "--dry-run", "-vv", "--json", "--host", "h", root}
			for _, p := range c.patterns {
				p = underRoot(p, root)
				patterns = append(patterns, p)
				args = append(args, flag+p)
			}
			got := resticSaved(t, bin, env, root, args)

			ps := mustParse(t, patterns, c.fold)
			var want []string
			for p := root; ; {
				if filter.Match(ps, p) {
					break
				}
				want = append(want, p)
				if p == file {
					break
				}
				next, _, _ := strings.Cut(strings.TrimPrefix(file, p+"/"), "/")
				p += "/" + next
			}
			if !slices.Equal(got, want) {
				t.Errorf("patterns %q: restic saved %q, Match says %q", patterns, got, want)
			}
		})
	}
}

// underRoot moves an anchored pattern below root, keeping a leading "!".
func underRoot(p, root string) string {
	body, neg := strings.CutPrefix(p, "!")
	if !strings.HasPrefix(body, "/") {
		return p
	}
	if neg {
		return "!" + root + body
	}
	return root + body
}

// resticSaved runs restic and returns the paths at or below root that it
// would save, shortest first.
func resticSaved(t *testing.T, bin string, env []string, root string, args []string) []string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("restic %q: %v\n%s", args, err, stderr.String())
	}
	var saved []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var msg struct {
			Type   string `json:"message_type"`
			Action string `json:"action"`
			Item   string `json:"item"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil || msg.Type != "verbose_status" || msg.Action != "new" {
			continue
		}
		item := strings.TrimSuffix(msg.Item, "/")
		if item == root || strings.HasPrefix(item, root+"/") {
			saved = append(saved, item)
		}
	}
	slices.SortFunc(saved, func(a, b string) int { return len(a) - len(b) })
	return saved
}

// resticRepo copies testdata/repo, a repository with a key made with very
// cheap scrypt parameters (password "pw"; written by cairn init with
// CAIRN_KDF_PARAMS=1024,8,1), so that no restic start spends a second in
// scrypt, and returns the environment that points restic at it.
func resticRepo(t *testing.T, base string) []string {
	t.Helper()
	repo := filepath.Join(base, "repo")
	if err := os.CopyFS(repo, os.DirFS("testdata/repo")); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(),
		"RESTIC_REPOSITORY="+repo,
		"RESTIC_PASSWORD=pw",
		"RESTIC_CACHE_DIR="+filepath.Join(base, "cache"),
	)
}

// resticBin returns $RESTIC_BIN or restic from the PATH. Without one the
// test is skipped, except under CI=true, where that is a failure.
func resticBin(t *testing.T) string {
	t.Helper()
	return testservers.Restic(t)
}
