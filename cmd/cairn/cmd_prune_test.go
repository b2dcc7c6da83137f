package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pruneDataSize is the size of the pack files of a repository.
func pruneDataSize(t *testing.T, repo string) int64 {
	t.Helper()
	var n int64
	m, err := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	must(t, err)
	for _, p := range m {
		fi, err := os.Stat(p)
		must(t, err)
		n += fi.Size()
	}
	return n
}

// checkDir lists the files of one repository directory (data: all packs).
func checkDir(t *testing.T, repo, kind string) []string {
	t.Helper()
	pattern := filepath.Join(repo, kind, "*")
	if kind == "data" {
		pattern = filepath.Join(repo, kind, "*", "*")
	}
	m, err := filepath.Glob(pattern)
	must(t, err)
	return m
}

// squash collapses runs of white space, for matching table output.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// pruneSnapshots lists the snapshot IDs of a repository, oldest first.
func pruneSnapshots(t *testing.T, env []string) []string {
	t.Helper()
	var snaps []struct {
		ID string `json:"id"`
	}
	mustJSON(t, restic(t, env, "snapshots", "--json", "--no-lock"), &snaps)
	var out []string
	for _, s := range snaps {
		out = append(out, s.ID)
	}
	return out
}

// pruneChurn makes a repository in which later snapshots drop files that
// earlier ones had, so that forgetting the early snapshots leaves packs
// partly used: round i adds files r<i>-0..3 and removes r<i-2>-0 and -2
// (their blobs share packs with those of r<i-2>-1 and -3).
func pruneChurn(t *testing.T, backup func(round int), src string, rounds, fileSize int) {
	t.Helper()
	for i := range rounds {
		for j := range 4 {
			writeRandom(t, filepath.Join(src, "churn", fmt.Sprintf("r%d-%d", i, j)), fileSize, uint64(1000*i+j))
		}
		if i >= 2 {
			for _, j := range []int{0, 2} {
				must(t, os.Remove(filepath.Join(src, "churn", fmt.Sprintf("r%d-%d", i-2, j))))
			}
		}
		writeFile(t, src, "round", fmt.Sprint(i))
		backup(i)
	}
}

// TestForgetPruneRestoresKept: forget --keep-last 2 --prune, then prune
// --max-unused 0, shrink the repository; restic checks every byte, and
// each kept snapshot restores identical to what restic restored before.
func TestForgetPruneRestoresKept(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeSampleTree(t, src)
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	pruneChurn(t, func(int) { cairn(t, env, "backup", "-q", "--pack-size", "4", src) }, src, 5, 1<<20)
	snaps := pruneSnapshots(t, env)
	kept := snaps[len(snaps)-2:]
	refs := map[string]string{}
	for _, sid := range kept {
		refs[sid] = filepath.Join(dir, "ref-"+sid[:8])
		restic(t, env, "restore", sid, "--target", refs[sid])
	}
	before := pruneDataSize(t, repo)

	out := cairn(t, env, "forget", "--keep-last", "2", "--prune")
	for _, want := range []string{"remove 3 snapshots", "3 snapshots have been removed, running prune", "to repack:", "this removes:", "unused size after prune:", "done:"} {
		if !strings.Contains(out, want) {
			t.Errorf("forget --prune output lacks %q:\n%s", want, out)
		}
	}
	afterForget := pruneDataSize(t, repo)
	out = cairn(t, env, "prune", "--max-unused", "0")
	if !strings.Contains(out, "unused size after prune: 0 B") {
		t.Errorf("prune --max-unused 0 output:\n%s", out)
	}
	after := pruneDataSize(t, repo)
	t.Logf("pack bytes: %d before, %d after forget --prune, %d after prune --max-unused 0", before, afterForget, after)
	if afterForget >= before || after > afterForget {
		t.Errorf("pack bytes %d → %d → %d, want a decrease", before, afterForget, after)
	}
	restic(t, env, "check", "--read-data")
	cairn(t, env, "check", "--read-data")
	for _, sid := range kept {
		dst := filepath.Join(dir, "got-"+sid[:8])
		cairn(t, env, "restore", sid, "--target", dst)
		compareTrees(t, refs[sid], dst)
	}
	// A second prune finds nothing left to do.
	out = cairn(t, env, "prune", "--max-unused", "0")
	if o := squash(out); !strings.Contains(o, "total prune: 0 blobs / 0 B") || !strings.Contains(o, "to repack: 0 blobs") {
		t.Errorf("second prune still works:\n%s", out)
	}
}

// TestPruneResticRepository: cairn prunes what restic wrote, in both
// repository versions, and restic checks and restores the result.
func TestPruneResticRepository(t *testing.T) {
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			makeSampleTree(t, src)
			repo := filepath.Join(dir, "repo")
			env := repoEnv(repo, "pw")
			resticInit(t, env, "--repository-version", version)
			pruneChurn(t, func(int) { restic(t, env, "backup", "-q", src) }, src, 4, 1<<20)
			restic(t, env, "forget", "--keep-last", "1")
			before := pruneDataSize(t, repo)
			out := cairn(t, env, "prune", "--max-unused", "0")
			if pruneDataSize(t, repo) >= before {
				t.Errorf("prune did not shrink the repository:\n%s", out)
			}
			restic(t, env, "check", "--read-data")
			dst := filepath.Join(dir, "dst")
			restic(t, env, "restore", "latest", "--target", dst)
			compareTrees(t, src, filepath.Join(dst, src))
			// restic finds nothing more worth pruning.
			out = restic(t, env, "prune", "--dry-run", "--max-unused", "0")
			if o := squash(out); !strings.Contains(o, "this removes: 0 blobs / 0 B") || !strings.Contains(o, "to delete: 0 blobs / 0 B") {
				t.Errorf("restic would still prune after cairn:\n%s", out)
			}
		})
	}
}

// TestPruneTidiesLeftovers: unreferenced packs and stale temporary files
// go; young temporary files stay; --dry-run changes nothing.
func TestPruneTidiesLeftovers(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "f"), 1<<20, 7)
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", "-q", src)

	old := time.Now().Add(-2 * time.Hour)
	oldTemp := writeFile(t, repo, "data/pack-tmp-123456", "partial pack")
	must(t, os.Chtimes(oldTemp, old, old))
	oldSave := writeFile(t, repo, "index/"+strings.Repeat("ab", 32)+"-tmp-0011", "partial index")
	must(t, os.Chtimes(oldSave, old, old))
	youngTemp := writeFile(t, repo, "data/pack-tmp-654321", "being written")
	unref := writeFile(t, repo, "data/cd/"+strings.Repeat("cd", 32), "not in any index")

	state := repoFilesState(t, repo)
	out := cairn(t, env, "prune", "--dry-run")
	if o := squash(out); !strings.Contains(o, "would delete 2 stale temporary files and 1 unreferenced packs") || !strings.Contains(o, "to delete: 1 unreferenced packs") {
		t.Errorf("prune --dry-run output:\n%s", out)
	}
	if repoFilesState(t, repo) != state {
		t.Error("prune --dry-run changed the repository")
	}
	cairn(t, env, "prune")
	for _, p := range []string{oldTemp, oldSave, unref} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", p, err)
		}
	}
	if _, err := os.Stat(youngTemp); err != nil {
		t.Errorf("young temporary file removed: %v", err)
	}
	must(t, os.Remove(youngTemp))
	restic(t, env, "check", "--read-data")
}

// pruneKillAfter starts `cairn prune --max-unused 0 --pack-size 4` (small
// packs: several written before their index) on repo and kills it with
// SIGKILL once it has printed a line starting with marker and then wait
// has returned. It reports whether the kill came before the prune
// finished.
func pruneKillAfter(t *testing.T, env []string, marker string, wait func()) bool {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), cairnBin, "prune", "--max-unused", "0", "--pack-size", "4")
	cmd.Env = append(os.Environ(), "CAIRN_KDF_PARAMS=1024,8,1", "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		if !killed && strings.HasPrefix(sc.Text(), marker) {
			wait()
			killed = cmd.Process.Signal(syscall.SIGKILL) == nil
		}
	}
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return killed && ok && ws.Signaled() && err != nil
}

// TestPruneKilled: a prune killed with SIGKILL in each of its phases
// leaves a repository that restic and cairn check accept, and the next
// prune finishes the job: the same size as an uninterrupted prune, every
// byte readable, the latest snapshot intact.
func TestPruneKilled(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "small", "small file")
	pristine := filepath.Join(dir, "pristine")
	env := repoEnv(pristine, "pw")
	cairn(t, env, "init")
	pruneChurn(t, func(int) { cairn(t, env, "backup", "-q", "--pack-size", "4", src) }, src, 4, 2<<20)
	cairn(t, env, "forget", "-q", "--keep-last", "1")

	copyRepo := func(name string) (string, []string) {
		dst := filepath.Join(dir, name)
		if out, err := exec.Command("cp", "-a", pristine, dst).CombinedOutput(); err != nil {
			t.Fatalf("copy repository: %v\n%s", err, out)
		}
		return dst, repoEnv(dst, "pw")
	}
	ref, refEnv := copyRepo("reference")
	cairn(t, refEnv, "prune", "--max-unused", "0", "--pack-size", "4")
	want := pruneDataSize(t, ref)
	t.Logf("pack bytes: %d before prune, %d after", pruneDataSize(t, pristine), want)

	sleep := func(d time.Duration) func(string) { return func(string) { time.Sleep(d) } }
	// newPack waits until the prune has stored its first new pack (and
	// not yet its index, usually: more packs follow).
	newPack := func(repo string) {
		n := len(checkDir(t, repo, "data"))
		for deadline := time.Now().Add(10 * time.Second); len(checkDir(t, repo, "data")) <= n && time.Now().Before(deadline); {
		}
	}
	points := []struct {
		name, marker string
		wait         func(repo string)
	}{
		{"start of repacking", "repacking", sleep(0)},
		{"first new pack", "repacking", newPack},
		{"repacking+5ms", "repacking", sleep(5 * time.Millisecond)},
		{"repacking+25ms", "repacking", sleep(25 * time.Millisecond)},
		{"index rewrite", "rebuilding index", sleep(0)},
		{"deleting old index", "deleting", sleep(0)},
		{"deleting old index+1ms", "deleting", sleep(time.Millisecond)},
		{"deleting packs", "removing", sleep(0)},
	}
	killedRuns := 0
	for i, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			repo, env := copyRepo(fmt.Sprintf("kill%d", i))
			if !pruneKillAfter(t, env, pt.marker, func() { pt.wait(repo) }) {
				t.Logf("prune finished before the kill")
			} else {
				killedRuns++
			}
			t.Logf("after the kill: %d index files, %d packs, %d pack bytes", len(checkDir(t, repo, "index")), len(checkDir(t, repo, "data")), pruneDataSize(t, repo))
			restic(t, env, "unlock")
			restic(t, env, "check")
			cairn(t, env, "check")

			cairn(t, env, "prune", "--max-unused", "0", "--pack-size", "4")
			if got := pruneDataSize(t, repo); got > want+want/20 {
				t.Errorf("after the second prune: %d pack bytes, want about %d", got, want)
			}
			restic(t, env, "check", "--read-data")
			dst := filepath.Join(t.TempDir(), "dst")
			cairn(t, env, "restore", "latest", "--target", dst)
			compareTrees(t, src, filepath.Join(dst, src))
			must(t, os.RemoveAll(repo))
		})
	}
	if killedRuns < len(points)/2 {
		t.Errorf("only %d of %d prunes were killed before they finished", killedRuns, len(points))
	}
}
