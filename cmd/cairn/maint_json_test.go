package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/repository"
)

// jsonLines decodes each non-empty line of out into a map.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// maintRepo is a repository with two snapshots of a small tree, made by
// cairn.
func maintRepo(t *testing.T) (env []string, src string) {
	t.Helper()
	dir := t.TempDir()
	src = filepath.Join(dir, "src")
	writeFile(t, src, "docs/a.txt", "alpha\n")
	writeFile(t, src, "docs/B.TXT", "bravo\n")
	writeFile(t, src, "data/big.bin", strings.Repeat("0123456789abcdef", 1<<14))
	env = repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", "-q", "--host", "h1", src)
	writeFile(t, src, "docs/c.txt", "charlie\n")
	cairn(t, env, "backup", "-q", "--host", "h1", src)
	return env, src
}

// TestMaintJSON: the commands for which restic 0.19.1 prints no JSON
// (prune, rewrite, repair, copy, unlock) print the lines docs/json.md
// describes under --json, and nothing else on stdout.
func TestMaintJSON(t *testing.T) {
	env, _ := maintRepo(t)
	one := func(args ...string) map[string]any {
		t.Helper()
		lines := jsonLines(t, cairn(t, env, append(args, "--json")...))
		if len(lines) != 1 || lines[0]["message_type"] != "summary" {
			t.Fatalf("cairn %v --json: want one summary line, got %v", args, lines)
		}
		return lines[0]
	}

	if s := one("unlock"); s["removed_locks"] != 0.0 {
		t.Errorf("unlock: %v", s)
	}
	if s := one("repair", "index", "--read-all-packs"); s["packs"].(float64) == 0 || s["new_index_files"].(float64) == 0 || s["removed_index_files"].(float64) == 0 {
		t.Errorf("repair index: %v", s)
	}
	restic(t, env, "check")

	// rewrite: one "changed" line per new snapshot, then the summary.
	lines := jsonLines(t, cairn(t, env, "rewrite", "--json", "--exclude", "*.bin", "latest"))
	if len(lines) != 2 || lines[0]["message_type"] != "changed" || lines[1]["changed_snapshot_count"] != 1.0 {
		t.Fatalf("rewrite --json: %v", lines)
	}
	newID, _ := lines[0]["new_snapshot_id"].(string)
	if out := restic(t, env, "ls", newID); strings.Contains(out, "big.bin") || !strings.Contains(out, "c.txt") {
		t.Errorf("restic ls of the rewritten snapshot:\n%s", out)
	}

	// prune: the dry run and the real run report the same plan; big.bin's
	// data is still used by the first two snapshots.
	dry := one("prune", "--dry-run")
	real := one("prune")
	if dry["dry_run"] != true || real["dry_run"] != false || dry["blobs_used"] != real["blobs_used"] {
		t.Errorf("prune --dry-run %v\nprune %v", dry, real)
	}
	restic(t, env, "check", "--read-data")

	// copy: "copied" lines and a summary; a second run skips everything.
	dst := repoEnv(filepath.Join(t.TempDir(), "dst"), "pw2")
	cairn(t, dst, "init")
	from := filepath.Join(t.TempDir(), "from")
	if err := os.WriteFile(from, []byte(strings.TrimPrefix(env[0], "RESTIC_REPOSITORY=")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines = jsonLines(t, cairn(t, dst, "copy", "--json", "--from-repository-file", from, "--from-password-file", pwFile))
	if len(lines) != 4 || lines[3]["copied_snapshot_count"] != 3.0 || lines[0]["message_type"] != "copied" {
		t.Errorf("copy --json: %v", lines)
	}
	lines = jsonLines(t, cairn(t, dst, "copy", "--json", "--from-repository-file", from, "--from-password-file", pwFile))
	if len(lines) != 1 || lines[0]["skipped_snapshot_count"] != 3.0 {
		t.Errorf("second copy --json: %v", lines)
	}
	restic(t, dst, "check")
}

// TestRewriteFlags: --include keeps only what matches, --iinclude folds
// case, --new-host and --new-time change the metadata alone, and include
// and exclude together fail with restic 0.19.1's message; restic reads
// the results.
func TestRewriteFlags(t *testing.T) {
	env, src := maintRepo(t)
	type snap struct {
		ID       string `json:"id"`
		Hostname string `json:"hostname"`
		Time     string `json:"time"`
		Original string `json:"original"`
	}
	newest := func() snap {
		var snaps []snap
		mustJSON(t, restic(t, env, "snapshots", "--json"), &snaps)
		var best snap
		for _, s := range snaps {
			if s.Time > best.Time {
				best = s
			}
		}
		return best
	}
	before := newest()
	cairn(t, env, "rewrite", "--include", "a.txt", "--iinclude", "b.txt", before.ID)
	var out string
	var snaps []snap
	mustJSON(t, restic(t, env, "snapshots", "--json"), &snaps)
	for _, s := range snaps {
		if s.Original == before.ID {
			out = restic(t, env, "ls", s.ID)
		}
	}
	for _, want := range []string{src + "/docs/a.txt", src + "/docs/B.TXT"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("rewrite --include: %s missing:\n%s", want, out)
		}
	}
	for _, gone := range []string{"big.bin", "c.txt"} {
		if strings.Contains(out, gone) {
			t.Errorf("rewrite --include kept %s:\n%s", gone, out)
		}
	}

	cairn(t, env, "rewrite", "--new-host", "elsewhere", "--new-time", "2030-01-02 03:04:05", "--forget", before.ID)
	got := newest()
	if got.Hostname != "elsewhere" || !strings.HasPrefix(got.Time, "2030-01-02") || got.Original != before.ID {
		t.Errorf("after --new-host/--new-time: %+v", got)
	}
	if list := restic(t, env, "list", "snapshots"); strings.Contains(list, before.ID) {
		t.Errorf("--forget kept the original %s:\n%s", before.ID[:8], list)
	}

	res := run(t, env, cairnBin, "rewrite", "--include", "x", "--exclude", "y")
	if res.code != 1 || !strings.Contains(res.stderr, "exclude and include patterns are mutually exclusive") {
		t.Errorf("include and exclude: %v", res)
	}
	res = run(t, env, cairnBin, "rewrite")
	if res.code != 1 || !strings.Contains(res.stderr, "no excludes/includes provided and no new metadata provided") {
		t.Errorf("nothing to do: %v", res)
	}
}

// TestPruneFlags: --repack-smaller-than is refused above the pack size,
// and --unsafe-recover-no-free-space asks for the repository ID with
// restic 0.19.1's message (cairn then refuses: it has no recovery mode).
func TestPruneFlags(t *testing.T) {
	env, _ := maintRepo(t)
	if res := run(t, env, cairnBin, "prune", "-n", "--repack-smaller-than", "1M"); res.code != 0 {
		t.Errorf("--repack-smaller-than 1M: %v", res)
	}
	if res := run(t, env, cairnBin, "prune", "-n", "--repack-smaller-than", "17M"); res.code != 1 || !strings.Contains(res.stderr, "exceeds the target pack size") {
		t.Errorf("--repack-smaller-than 17M: %v", res)
	}
	var cfg struct {
		ID string `json:"id"`
	}
	mustJSON(t, restic(t, env, "cat", "config"), &cfg)
	res := run(t, env, cairnBin, "prune", "--unsafe-recover-no-free-space", "wrong")
	if want := "must pass id '" + cfg.ID + "' to --unsafe-recover-no-free-space"; res.code != 1 || !strings.Contains(res.stderr, want) {
		t.Errorf("--unsafe-recover-no-free-space wrong: want %q: %v", want, res)
	}
	res = run(t, env, cairnBin, "prune", "--unsafe-recover-no-free-space", cfg.ID)
	if res.code != 1 || !strings.Contains(res.stderr, "not supported") {
		t.Errorf("--unsafe-recover-no-free-space ID: %v", res)
	}
}

// TestCopyInsecureNoPassword: copy reads a source repository with the
// empty password (as restic 0.17+ init --insecure-no-password makes one)
// when given --from-insecure-no-password, and refuses the flag together
// with a source password.
func TestCopyInsecureNoPassword(t *testing.T) {
	env, _ := maintRepo(t)
	srcRepo := filepath.Join(t.TempDir(), "nopw")
	be, err := local.Create(srcRepo)
	must(t, err)
	params, err := repository.FixedKeyParams(1<<10, 8, 1)
	must(t, err)
	_, err = repository.Init(t.Context(), be, "", repository.InitOptions{Version: 2, Params: params}, repository.Options{})
	must(t, err)
	res := run(t, env, cairnBin, "copy", "--from-repo", srcRepo, "--from-insecure-no-password")
	if res.code != 0 {
		t.Errorf("copy --from-insecure-no-password: %v", res)
	}
	res = run(t, append(env, "RESTIC_FROM_PASSWORD=x"), cairnBin, "copy", "--from-repo", srcRepo, "--from-insecure-no-password")
	if res.code != 1 || !strings.Contains(res.stderr, "--from-insecure-no-password") {
		t.Errorf("copy --from-insecure-no-password with a password: %v", res)
	}
	res = run(t, env, cairnBin, "copy", "--from-repo", srcRepo, "--from-repository-file", "/x")
	if res.code != 1 || !strings.Contains(res.stderr, "mutually exclusive") {
		t.Errorf("--from-repo with --from-repository-file: %v", res)
	}
}

// TestCheckAdvice: check's summary names the damaged pack in
// broken_packs (restic 0.19.1's field) and the text output ends with the
// cairn commands that repair it; an unindexed pack only suggests prune
// and repair index, without an error.
func TestCheckAdvice(t *testing.T) {
	env, _ := maintRepo(t)
	repo := strings.TrimPrefix(env[0], "RESTIC_REPOSITORY=")
	var biggest string
	var size int64
	must(t, filepath.Walk(filepath.Join(repo, "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			biggest, size = p, fi.Size()
		}
		return err
	}))
	b, err := os.ReadFile(biggest)
	must(t, err)
	b[100] ^= 1
	must(t, os.Chmod(biggest, 0o644))
	must(t, os.WriteFile(biggest, b, 0o644))
	packID := filepath.Base(biggest)

	res := run(t, env, cairnBin, "check", "--read-data", "--json")
	lines := jsonLines(t, res.stdout)
	if res.code != 1 || len(lines) != 1 {
		t.Fatalf("check --read-data --json: %v", res)
	}
	if broken, _ := lines[0]["broken_packs"].([]any); len(broken) != 1 || broken[0] != packID {
		t.Errorf("broken_packs = %v, want [%s]", lines[0]["broken_packs"], packID)
	}
	for _, l := range jsonLines(t, res.stderr) {
		if l["message_type"] != "error" && l["message_type"] != "exit_error" {
			t.Errorf("check --json stderr line: %v", l)
		}
	}
	res = run(t, env, cairnBin, "check", "--read-data")
	for _, want := range []string{"cairn repair packs " + packID, "cairn repair snapshots --forget", "Fatal: repository contains errors"} {
		if res.code != 1 || !strings.Contains(res.stderr, want) {
			t.Errorf("check --read-data lacks %q: %v", want, res)
		}
	}
	// restic agrees that the pack is damaged.
	if r := run(t, env, resticBin(t), "check", "--read-data"); r.code != 1 || !strings.Contains(r.stdout+r.stderr, packID[:8]) {
		t.Errorf("restic check --read-data: %v", r)
	}

	// After the repair commands the check passes; then a file in data/
	// that no index lists is a hint (suggest_prune), not an error.
	cairn(t, env, "repair", "packs", packID)
	cairn(t, env, "repair", "snapshots", "--forget")
	if res := run(t, env, cairnBin, "check", "--read-data", "--json"); res.code != 0 {
		t.Errorf("check after repair packs and repair snapshots: %v", res)
	}
	writeFile(t, filepath.Join(repo, "data", "00"), strings.Repeat("00", 32), "not a pack")
	res = run(t, env, cairnBin, "check", "--json")
	lines = jsonLines(t, res.stdout)
	if res.code != 0 || len(lines) != 1 || lines[0]["suggest_prune"] != true {
		t.Errorf("check --json with an unindexed pack: %v", res)
	}
	if out := cairn(t, env, "check"); !strings.Contains(out, "run `cairn prune`") {
		t.Errorf("check with an unindexed pack does not suggest prune:\n%s", out)
	}
}

// TestDiffJSONNames: diff --json names the snapshots in its statistics
// as the arguments gave them, prefix and :PATH included, as restic 0.19.1
// does (recorded: "source_snapshot":"a11a3a38",
// "target_snapshot":"49367a7f:/docs"); Debian's restic 0.14 agrees on
// prefixes (it has no :PATH).
func TestDiffJSONNames(t *testing.T) {
	env, src := maintRepo(t)
	ids := sortedLines(restic(t, env, "list", "snapshots"))
	for _, c := range []struct{ bin, a, b string }{
		{cairnBin, ids[0][:8], ids[1][:10]},
		{resticBin(t), ids[0][:8], ids[1][:10]},
		{cairnBin, ids[0][:8], ids[1][:10] + ":" + src + "/docs"},
	} {
		bin, a, b := c.bin, c.a, c.b
		res := run(t, env, bin, "diff", "--json", a, b)
		lines := jsonLines(t, res.stdout)
		if res.code != 0 || len(lines) == 0 {
			t.Fatalf("%s diff --json: %v", filepath.Base(bin), res)
		}
		last := lines[len(lines)-1]
		if last["source_snapshot"] != a || last["target_snapshot"] != b {
			t.Errorf("%s diff --json statistics: %v, want %s and %s", filepath.Base(bin), last, a, b)
		}
	}
}
