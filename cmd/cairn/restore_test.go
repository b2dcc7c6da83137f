package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRestoreResticSnapshots: cairn restores what restic 0.14 backed up,
// v1 and v2, to a tree identical to the source, metadata included.
func TestRestoreResticSnapshots(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeSampleTree(t, src)
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
			resticInit(t, env, "--repository-version", version)
			restic(t, env, "backup", src)
			dst := filepath.Join(t.TempDir(), "dst")
			out := cairn(t, env, "restore", "latest", "--target", dst, "--verify")
			if !strings.Contains(out, "verified") {
				t.Errorf("restore output:\n%s", out)
			}
			compareTrees(t, src, filepath.Join(dst, src))

			// The sub-path form puts the directory's contents at the target.
			dst2 := filepath.Join(t.TempDir(), "dst2")
			cairn(t, env, "restore", "latest:"+src, "--target", dst2)
			compareTrees(t, src, dst2)
		})
	}
}

// TestRestoreIncludeExcludeOverwriteDelete covers the selection and
// existing-file options.
func TestRestoreIncludeExcludeOverwriteDelete(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "src/keep/a.txt", "a")
	writeFile(t, dir, "src/keep/b.log", "b")
	writeFile(t, dir, "src/other/c.txt", "c")
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")
	cairnIn(t, dir, env, "backup", "src")

	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--include", "/src/keep"}, "src/keep/a.txt src/keep/b.log"},
		{[]string{"--exclude", "*.log", "--exclude", "/src/other"}, "src/keep/a.txt"},
	} {
		dst := filepath.Join(t.TempDir(), "dst")
		cairn(t, env, append([]string{"restore", "latest", "--target", dst}, tc.flags...)...)
		var got []string
		_ = filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				rel, _ := filepath.Rel(dst, p)
				got = append(got, rel)
			}
			return nil
		})
		if strings.Join(got, " ") != tc.want {
			t.Errorf("restore %v restored %v, want [%s]", tc.flags, got, tc.want)
		}
	}
	// As in restic 0.19.1, includes and excludes do not mix.
	res := run(t, env, cairnBin, "restore", "latest", "--target", t.TempDir(), "--include", "/src/keep", "--exclude", "*.log")
	if res.code != 1 || res.stderr != "Fatal: exclude and include patterns are mutually exclusive\n" {
		t.Errorf("--include with --exclude: %v", res)
	}

	// never keeps a changed file, always puts it back; delete removes extras.
	full := filepath.Join(t.TempDir(), "full")
	cairn(t, env, "restore", "latest", "--target", full)
	a := filepath.Join(full, "src/keep/a.txt")
	must(t, os.WriteFile(a, []byte("changed"), 0o600))
	extra := writeFile(t, full, "src/keep/extra", "not in the snapshot")
	cairn(t, env, "restore", "latest", "--target", full, "--overwrite", "never")
	if b, _ := os.ReadFile(a); string(b) != "changed" {
		t.Errorf("--overwrite never replaced the file: %q", b)
	}
	out := cairn(t, env, "restore", "latest", "--target", full, "--delete", "--dry-run")
	if _, err := os.Stat(extra); err != nil {
		t.Errorf("--dry-run deleted a file: %v (%s)", err, out)
	}
	cairn(t, env, "restore", "latest", "--target", full, "--delete")
	if b, _ := os.ReadFile(a); string(b) != "a" {
		t.Errorf("--overwrite always left %q", b)
	}
	if _, err := os.Stat(extra); !os.IsNotExist(err) {
		t.Errorf("--delete kept the extra file: %v", err)
	}
}

// TestRestoreKilledAndResumed: a restore killed with SIGKILL half way and
// run again ends identical to the source and fetches less than everything.
func TestRestoreKilledAndResumed(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for i := range 16 {
		writeRandom(t, filepath.Join(src, "f"+strconv.Itoa(i)), 16<<20, uint64(100+i))
	}
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", "--pack-size", "4", src)

	dst := filepath.Join(t.TempDir(), "dst")
	cmd := exec.CommandContext(t.Context(), cairnBin, "restore", "latest", "--target", dst)
	cmd.Env = append(os.Environ(), env...)
	must(t, cmd.Start())
	// Kill once a good part of the data is on disk.
	deadline := time.Now().Add(60 * time.Second)
	for dirSize(dst) < 96<<20 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	if dirSize(dst) >= 256<<20 {
		t.Skip("the restore finished before it could be killed") // not a failure of cairn
	}

	out := cairn(t, env, "restore", "--json", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src))
	// restic's summary: bytes already in place are not restored again.
	var sum struct {
		MessageType   string `json:"message_type"`
		BytesRestored uint64 `json:"bytes_restored"`
		BytesSkipped  uint64 `json:"bytes_skipped"`
		TotalBytes    uint64 `json:"total_bytes"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.MessageType != "summary" {
		t.Fatalf("no summary (%v) in:\n%s", err, out)
	}
	if sum.BytesRestored >= 256<<20 || sum.BytesRestored+sum.BytesSkipped != sum.TotalBytes {
		t.Errorf("second restore: %+v, want fewer than 256 MiB restored and the rest skipped", sum)
	}
	entries, _ := filepath.Glob(filepath.Join(dst, src, ".*"))
	if len(entries) > 0 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// TestRestoreDamagedPack: a damaged pack fails the files that need it,
// reports them, leaves no partial file under their names, restores the
// rest, and exits non-zero.
func TestRestoreDamagedPack(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "big"), 6<<20, 1)
	writeFile(t, src, "small", "small file")
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", "--pack-size", "4", src)

	// Flip a byte in the middle of the largest pack (data, not header).
	packs, _ := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	var largest string
	var size int64
	for _, p := range packs {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			largest, size = p, fi.Size()
		}
	}
	damage(t, largest, func(b []byte) []byte { b[len(b)/3] ^= 1; return b })

	dst := filepath.Join(t.TempDir(), "dst")
	res := run(t, env, cairnBin, "restore", "latest", "--target", dst)
	if res.code == 0 {
		t.Fatalf("restore of a damaged pack succeeded:\n%v", res)
	}
	if !strings.Contains(res.stderr, "big") {
		t.Errorf("the damaged file is not reported:\n%s", res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dst, src, "big")); !os.IsNotExist(err) {
		t.Errorf("a damaged file sits under its final name: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, src, "small")); err != nil || string(b) != "small file" {
		t.Errorf("the intact file was not restored: %q %v", b, err)
	}
}
