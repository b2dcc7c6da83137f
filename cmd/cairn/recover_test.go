package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recoverSnap is the part of `snapshots --json` the recover tests read.
type recoverSnap struct {
	ID       string   `json:"id"`
	Tree     string   `json:"tree"`
	Paths    []string `json:"paths"`
	Hostname string   `json:"hostname"`
	Tags     []string `json:"tags"`
}

// lsEntries is `restic ls` output without its header line.
func lsEntries(out string) []string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[1:]
}

// TestRecoverForgottenSnapshot: a snapshot forgotten (by cairn, or by
// restic 0.14) but not pruned comes back under a new "recovered" snapshot
// with restic 0.19.1's shape: path /recover, one directory named by the
// lost root tree's short ID. restic checks the repository, lists the same
// entries below that directory as in the original, and the files restore.
func TestRecoverForgottenSnapshot(t *testing.T) {
	for _, forgetter := range []string{"cairn", "restic"} {
		t.Run("forget by "+forgetter, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			writeFile(t, src, "a/one.txt", "first file")
			writeFile(t, src, "a/b/two.txt", strings.Repeat("second file\n", 1000))
			other := filepath.Join(dir, "other")
			writeFile(t, other, "kept.txt", "kept")
			env := repoEnv(filepath.Join(dir, "repo"), "pw")
			cairn(t, env, "init")
			cairn(t, env, "backup", src)
			cairn(t, env, "backup", other)
			var snaps []recoverSnap
			mustJSON(t, cairn(t, env, "snapshots", "--json"), &snaps)
			if len(snaps) != 2 {
				t.Fatalf("snapshots: %+v", snaps)
			}
			lost := snaps[0]
			want := lsEntries(restic(t, env, "ls", lost.ID))

			if forgetter == "cairn" {
				cairn(t, env, "forget", lost.ID)
			} else {
				restic(t, env, "forget", lost.ID)
			}
			out := cairn(t, env, "recover")
			lines := strings.Split(out, "\n")
			if len(lines) < 3 || !strings.HasPrefix(lines[len(lines)-2], "saved new snapshot ") ||
				lines[len(lines)-3] != "found 1 unreferenced roots" || lines[len(lines)-4] != "" {
				t.Fatalf("recover output:\n%s", out)
			}
			short := strings.TrimPrefix(lines[len(lines)-2], "saved new snapshot ")

			mustJSON(t, cairn(t, env, "snapshots", "--json", "--tag", "recovered"), &snaps)
			host, _ := os.Hostname()
			if len(snaps) != 1 || snaps[0].ID[:8] != short || !slices.Equal(snaps[0].Paths, []string{"/recover"}) ||
				snaps[0].Hostname != host || !slices.Equal(snaps[0].Tags, []string{"recovered"}) {
				t.Fatalf("recovered snapshot %+v, want %s of /recover on %s tagged recovered", snaps, short, host)
			}
			var root struct {
				Nodes []struct {
					Name    string `json:"name"`
					Type    string `json:"type"`
					Mode    uint32 `json:"mode"`
					Subtree string `json:"subtree"`
				} `json:"nodes"`
			}
			mustJSON(t, restic(t, env, "cat", "blob", snaps[0].Tree), &root)
			if len(root.Nodes) != 1 || root.Nodes[0].Name != lost.Tree[:8] || root.Nodes[0].Type != "dir" ||
				root.Nodes[0].Mode != 0o755 || root.Nodes[0].Subtree != lost.Tree {
				t.Fatalf("recovered root tree %+v, want one dir %s (mode 0755) with subtree %s", root.Nodes, lost.Tree[:8], lost.Tree)
			}

			restic(t, env, "check", "--read-data")
			got := lsEntries(restic(t, env, "ls", short))
			var wantRecovered []string
			wantRecovered = append(wantRecovered, "/"+lost.Tree[:8])
			for _, e := range want {
				wantRecovered = append(wantRecovered, "/"+lost.Tree[:8]+e)
			}
			if !slices.Equal(got, wantRecovered) {
				t.Errorf("restic ls of the recovered snapshot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRecovered, "\n"))
			}

			target := filepath.Join(dir, "restored")
			cairn(t, env, "restore", short, "--target", target)
			compareTrees(t, src, filepath.Join(target, lost.Tree[:8], src))

			// Everything is referenced now.
			if out := cairn(t, env, "recover", "-q"); out != "\nfound 0 unreferenced roots\n" {
				t.Errorf("second recover -q: %q", out)
			}
		})
	}
}

// TestRecoverNothing: with every tree referenced, recover writes nothing
// and exits 0. restic 0.19.1 ends its output with these lines (and prints
// only the "found" line, after an empty one, with -q).
func TestRecoverNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "src/f.txt", "data")
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", filepath.Join(dir, "src"))
	before := treeState(t, filepath.Join(dir, "repo", "snapshots"))

	res := run(t, env, cairnBin, "recover")
	const tail = "\nfound 0 unreferenced roots\nno snapshot to write.\n" // restic 0.19.1
	if res.code != 0 || !strings.HasSuffix(res.stdout, tail) || !strings.HasPrefix(res.stdout, "ensuring index is complete\n") || res.stderr != "" {
		t.Errorf("recover: %v", res)
	}
	res = run(t, env, cairnBin, "recover", "-q")
	if res.code != 0 || res.stdout != "\nfound 0 unreferenced roots\n" || res.stderr != "" {
		t.Errorf("recover -q: %v", res)
	}
	res = run(t, env, cairnBin, "recover", "--json")
	if res.code != 0 || res.stdout != `{"message_type":"summary","unreferenced_roots":0}`+"\n" {
		t.Errorf("recover --json: %v", res)
	}
	if after := treeState(t, filepath.Join(dir, "repo", "snapshots")); after != before {
		t.Errorf("snapshots changed:\n%s\nwas:\n%s", after, before)
	}
	restic(t, env, "check")
}

// TestRecoverJSONAndVerbose: --json gives cairn's summary line with the
// new snapshot's ID; -v names each root as restic does.
func TestRecoverJSONAndVerbose(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/f.txt", "a")
	writeFile(t, dir, "b/g.txt", "b")
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", filepath.Join(dir, "a"))
	cairn(t, env, "backup", filepath.Join(dir, "b"))
	var snaps []recoverSnap
	mustJSON(t, cairn(t, env, "snapshots", "--json"), &snaps)
	cairn(t, env, "forget", snaps[0].ID, snaps[1].ID)
	trees := []string{snaps[0].Tree[:8], snaps[1].Tree[:8]}
	slices.Sort(trees)

	out := cairn(t, env, "recover", "-v", "--no-cache")
	wantLines := "found root tree " + trees[0] + "\nfound root tree " + trees[1] + "\n\nfound 2 unreferenced roots\n"
	if !strings.Contains(out, wantLines) {
		t.Errorf("recover -v:\n%s\nwant it to contain:\n%s", out, wantLines)
	}
	// Forget the recovered snapshot: its tree, which holds both, is now the
	// only root.
	var rec []recoverSnap
	mustJSON(t, cairn(t, env, "snapshots", "--json", "--tag", "recovered"), &rec)
	if len(rec) != 1 {
		t.Fatalf("recovered snapshots: %+v", rec)
	}
	cairn(t, env, "forget", rec[0].ID)
	var sum struct {
		MessageType string `json:"message_type"`
		Roots       int    `json:"unreferenced_roots"`
		SnapshotID  string `json:"snapshot_id"`
	}
	mustJSON(t, cairn(t, env, "recover", "--json"), &sum)
	var now []recoverSnap
	mustJSON(t, cairn(t, env, "snapshots", "--json", "--tag", "recovered"), &now)
	if sum.MessageType != "summary" || sum.Roots != 1 || len(now) != 1 || now[0].ID != sum.SnapshotID {
		t.Fatalf("recover --json: %+v; snapshots %+v", sum, now)
	}
	ls := lsEntries(restic(t, env, "ls", now[0].ID))
	if len(ls) < 3 || ls[0] != "/"+rec[0].Tree[:8] || ls[1] != "/"+rec[0].Tree[:8]+"/"+trees[0] {
		t.Errorf("restic ls of the second recovery:\n%s", strings.Join(ls, "\n"))
	}
}

// TestRecoverLocked: recover takes an exclusive lock, as restic does, so
// a shared lock another process holds makes it fail with exit code 11
// (--retry-lock 0: restic's default of not waiting).
func TestRecoverLocked(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	// A backup from stdin holds its shared lock until stdin is closed.
	holder := exec.CommandContext(t.Context(), cairnBin, "backup", "--stdin", "--stdin-filename", "x")
	holder.Env = append(os.Environ(), env...)
	holder.Env = append(holder.Env, "CAIRN_KDF_PARAMS=1024,8,1", "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backup's lock", func() bool { return lockCount(repo) > 0 })
	res := run(t, env, cairnBin, "recover", "--retry-lock", "0")
	_ = stdin.Close()
	_ = holder.Wait() // it fails: no data on stdin
	if res.code != exitLocked || !strings.Contains(res.stderr, "locked") {
		t.Errorf("recover under a shared lock: %v", res)
	}
}

// TestMigrateForce: as restic 0.19.1, upgrade_repo_v2 on a version 2
// repository is skipped with a warning (exit 0); with --force it is
// applied again, which fails after the check with restic's message; the
// listing says there is nothing to apply. On a version 1 repository it
// upgrades, and restic reads the result.
func TestMigrateForce(t *testing.T) {
	dir := t.TempDir()
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init", "--repository-version", "1")
	writeFile(t, dir, "src/f.txt", "data")
	cairn(t, env, "backup", filepath.Join(dir, "src"))

	if out := cairn(t, env, "migrate"); out != "available migrations:\n  upgrade_repo_v2\tupgrade a repository to version 2\n" {
		t.Errorf("migrate on v1: %q", out)
	}
	out := cairn(t, env, "migrate", "upgrade_repo_v2")
	if !strings.HasPrefix(out, "checking repository integrity...\n") ||
		!strings.HasSuffix(out, "no errors were found\napplying migration upgrade_repo_v2...\nmigration upgrade_repo_v2: success\n") {
		t.Errorf("migrate upgrade_repo_v2:\n%s", out)
	}
	var cfg struct{ Version int }
	mustJSON(t, restic(t, env, "cat", "config"), &cfg)
	if cfg.Version != 2 {
		t.Fatalf("version after migration = %d", cfg.Version)
	}
	if out := cairn(t, env, "migrate"); out != "available migrations:\nno migrations found\n" {
		t.Errorf("migrate on v2: %q", out)
	}

	res := run(t, env, cairnBin, "migrate", "upgrade_repo_v2")
	if res.code != 0 || res.stdout != "" || res.stderr != "migration upgrade_repo_v2 cannot be applied: repository is already upgraded to version 2\n"+
		"If you want to apply this migration anyway, re-run with option --force\n" {
		t.Errorf("migrate upgrade_repo_v2 on v2: %v", res)
	}
	for _, force := range []string{"-f", "--force"} {
		res = run(t, env, cairnBin, "migrate", force, "upgrade_repo_v2")
		if res.code != 1 || !strings.HasPrefix(res.stdout, "checking repository integrity...\n") ||
			!strings.HasSuffix(res.stdout, "no errors were found\napplying migration upgrade_repo_v2...\n") ||
			res.stderr != "check for migration upgrade_repo_v2 failed, continuing anyway\n"+
				"migration upgrade_repo_v2 failed: repository has version 2, only upgrades from version 1 are supported\n"+
				"repository has version 2, only upgrades from version 1 are supported\n" {
			t.Errorf("migrate %s upgrade_repo_v2 on v2: %v", force, res)
		}
	}
	res = run(t, env, cairnBin, "migrate", "--json", "-f", "upgrade_repo_v2")
	if res.code != 1 || res.stdout != "checking repository integrity...\napplying migration upgrade_repo_v2...\n" ||
		!strings.HasSuffix(res.stderr, `{"message_type":"exit_error","code":1,"message":"repository has version 2, only upgrades from version 1 are supported"}`+"\n") {
		t.Errorf("migrate --json -f: %v", res)
	}
	res = run(t, env, cairnBin, "migrate", "bogus")
	if res.code != 0 || res.stderr != "unknown migration bogus\n" {
		t.Errorf("migrate bogus: %v", res)
	}
	mustJSON(t, restic(t, env, "cat", "config"), &cfg)
	if cfg.Version != 2 {
		t.Fatalf("version after forced migration = %d", cfg.Version)
	}
	restic(t, env, "check", "--read-data")
}

// TestRecoverRebuildsIndex: recover first makes the index complete from
// the pack files (restic's "ensuring index is complete"), so a forgotten
// snapshot whose trees no index file lists is still found.
func TestRecoverRebuildsIndex(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	writeFile(t, dir, "src/f.txt", "lost and found")
	cairn(t, env, "init")
	cairn(t, env, "backup", filepath.Join(dir, "src"))
	var snaps []recoverSnap
	mustJSON(t, cairn(t, env, "snapshots", "--json"), &snaps)
	cairn(t, env, "forget", snaps[0].ID)
	idx, _ := filepath.Glob(filepath.Join(repo, "index", "*"))
	if len(idx) == 0 {
		t.Fatal("no index files")
	}
	for _, f := range idx {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	out := cairn(t, env, "recover", "--no-cache")
	if !strings.Contains(out, "\nfound 1 unreferenced roots\nsaved new snapshot ") {
		t.Fatalf("recover without index files:\n%s", out)
	}
	restic(t, env, "check", "--read-data")
	if ls := restic(t, env, "ls", "latest"); !strings.Contains(ls, "/"+snaps[0].Tree[:8]+filepath.Join(dir, "src", "f.txt")+"\n") {
		t.Errorf("restic ls latest:\n%s", ls)
	}
}
