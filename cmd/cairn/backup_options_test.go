package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeRandom writes n pseudo-random (incompressible) bytes to path.
func writeRandom(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	buf := make([]byte, n)
	for i := 0; i+8 <= len(buf); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, buf, 0o644))
}

// TestInterruptKeepsUploadedData: SIGINT during a backup exits 130, leaves
// a repository restic checks clean, and the next run stores only what the
// first did not.
func TestInterruptKeepsUploadedData(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for i := range 12 {
		writeRandom(t, filepath.Join(src, "f"+string(rune('a'+i))), 24<<20, uint64(i))
	}
	repo := filepath.Join(t.TempDir(), "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")

	cmd := exec.CommandContext(t.Context(), cairnBin, "backup", "--pack-size", "4", src)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "CAIRN_KDF_PARAMS=1024,8,1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	deadline := time.Now().Add(60 * time.Second)
	for countPacks(t, repo) < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	must(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 130 {
		t.Fatalf("exit code after SIGINT = %d, want 130 (stderr: %s)", code, stderr.String())
	}
	if n := len(sortedLines(restic(t, env, "list", "snapshots"))); n != 0 {
		t.Errorf("interrupted backup left %d snapshots", n)
	}
	restic(t, env, "check", "--read-data")
	if len(sortedLines(restic(t, env, "list", "index"))) == 0 {
		t.Fatal("interrupted backup wrote no index for the packs it uploaded")
	}

	out := cairn(t, env, "backup", src)
	m := regexp.MustCompile(`Added to the repository: ([0-9.]+) MiB`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no added size in:\n%s", out)
	}
	var added float64
	_, _ = fmt.Sscanf(m[1], "%g", &added)
	if added >= 12*24 {
		t.Errorf("second run added %.1f MiB, want less than the whole %d MiB", added, 12*24)
	}
	restic(t, env, "check", "--read-data")
}

func countPacks(t *testing.T, repo string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	n := 0
	for _, p := range m {
		if !strings.Contains(filepath.Base(p), "-tmp-") {
			n++
		}
	}
	return n
}

// lsPaths returns the paths `cairn ls latest` prints, relative to base.
func lsPaths(t *testing.T, env []string, base string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(cairn(t, env, "ls", "latest"), "\n")[1:] {
		if rel, ok := strings.CutPrefix(l, base+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

func TestBackupExcludes(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for _, f := range []string{"keep.txt", "drop.tmp", "DROP.TMP", "sub/keep.go", "sub/node_modules/x.js", "cache/CACHEDIR.TAG", "cache/blob", "marked/.nobackup", "marked/data", "Upper.LOG", "big.bin", "listed.dat"} {
		writeFile(t, src, f, "x")
	}
	writeFile(t, src, "cache/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n# cache\n")
	writeRandom(t, filepath.Join(src, "big.bin"), 2<<20, 7)
	excl := writeFile(t, dir, "excludes", "# comment\n\n*.dat\n")
	env := repoEnv(filepath.Join(dir, "repo"), "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", "--exclude", "*.tmp", "--exclude", "node_modules", "--iexclude", "*.log",
		"--exclude-file", excl, "--exclude-caches", "--exclude-if-present", ".nobackup",
		"--exclude-larger-than", "1M", src)
	got := strings.Join(lsPaths(t, env, src), " ")
	want := "DROP.TMP keep.txt sub sub/keep.go"
	if got != want {
		t.Errorf("backed up %q, want %q", got, want)
	}
}

func TestBackupFilesFromStdinDryRunAndMetadata(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	a := writeFile(t, src, "a", "aaa")
	writeFile(t, src, "b", "bbb")
	c := writeFile(t, src, "dir/c", "ccc")
	list := writeFile(t, dir, "list", "# files\n"+a+"\n\n"+filepath.Join(src, "dir")+"\n")
	repo := filepath.Join(dir, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")

	// --dry-run writes nothing.
	before := treeState(t, repo)
	out := cairn(t, env, "backup", "--dry-run", src)
	if !strings.Contains(out, "Would add") {
		t.Errorf("dry run output:\n%s", out)
	}
	if after := treeState(t, repo); after != before {
		t.Errorf("dry run changed the repository")
	}

	cairn(t, env, "backup", "--files-from", list, "--tag", "x,y", "--tag", "z", "--host", "h1", "--time", "2020-01-02 03:04:05")
	if got := strings.Join(lsPaths(t, env, src), " "); got != "a dir dir/c" {
		t.Errorf("--files-from backed up %q", got)
	}
	var snaps []struct {
		Time     string   `json:"time"`
		Hostname string   `json:"hostname"`
		Tags     []string `json:"tags"`
		Paths    []string `json:"paths"`
	}
	mustJSON(t, restic(t, env, "snapshots", "--json"), &snaps)
	s := snaps[0]
	if s.Hostname != "h1" || strings.Join(s.Tags, ",") != "x,y,z" || !strings.HasPrefix(s.Time, "2020-01-02T03:04:05") || len(s.Paths) != 2 {
		t.Errorf("snapshot metadata = %+v", s)
	}
	_ = c

	// --stdin stores one file; restic dumps it back.
	data := strings.Repeat("from stdin\n", 100000)
	cmd := exec.CommandContext(t.Context(), cairnBin, "backup", "--stdin", "--stdin-filename", "db.sql")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("backup --stdin: %v\n%s", err, out)
	}
	if got := restic(t, env, "dump", "latest", "/db.sql"); got != data {
		t.Errorf("restic dump of the stdin file gives %d bytes, want %d", len(got), len(data))
	}
	restic(t, env, "check", "--read-data")
}

func TestBackupParentAndSnapshotsFilters(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "src/f", "f")
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")
	cairnIn(t, dir, env, "backup", "--host", "one", "--tag", "daily", "src")
	cairnIn(t, dir, env, "backup", "--host", "two", "src")
	first := latestSnapshotID(t, env)
	// Host "one" has no parent on host "two"'s run; --parent forces one.
	res := runIn(t, dir, env, cairnBin, "backup", "--host", "one", "--parent", first[:8], "src")
	if res.code != 0 || !strings.Contains(res.stdout, "using parent snapshot "+first[:8]) {
		t.Errorf("--parent not used:\n%v", res)
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, 3},
		{[]string{"--host", "one"}, 2},
		{[]string{"--tag", "daily"}, 1},
		{[]string{"--latest", "1"}, 2},
		{[]string{"--path", filepath.Join(dir, "src")}, 3},
		{[]string{"--path", "/elsewhere"}, 0},
	} {
		out := cairn(t, env, append([]string{"snapshots"}, c.args...)...)
		// No snapshots print nothing, as restic 0.19.1.
		if !strings.Contains(out, fmt.Sprintf("%d snapshots", c.want)) && (c.want != 0 || out != "") {
			t.Errorf("snapshots %v:\n%s\nwant %d snapshots", c.args, out, c.want)
		}
	}
	out := cairn(t, env, "snapshots", "--group-by", "host")
	if strings.Count(out, "snapshots for") != 2 {
		t.Errorf("snapshots --group-by host:\n%s", out)
	}
	long := cairn(t, env, "ls", "--long", "latest")
	if !regexp.MustCompile(`-rw-------\s+\S+\s+\S+\s+1 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*/src/f`).MatchString(long) {
		t.Errorf("ls --long:\n%s", long)
	}
}

func TestOneFileSystem(t *testing.T) {
	// /dev holds other file systems (devpts, shm) on every Linux machine.
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")
	res := run(t, env, cairnBin, "backup", "--one-file-system", "--exclude", "/dev/shm/*", "/dev")
	if res.code != 0 && res.code != 3 {
		t.Fatalf("backup /dev: %v", res)
	}
	ls := cairn(t, env, "ls", "latest")
	if !strings.Contains(ls, "/dev/pts\n") {
		t.Errorf("mount point /dev/pts is not kept as a directory:\n%s", ls)
	}
	if strings.Contains(ls, "/dev/pts/") {
		t.Errorf("backup crossed into /dev/pts:\n%s", ls)
	}
}

// TestFileChangingWhileRead: a file that grows during the backup is saved
// as read, with a warning, and the backup succeeds.
func TestFileChangingWhileRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "src", "growing.log")
	writeRandom(t, p, 64<<20, 3)
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
	cairn(t, env, "init")

	stop := make(chan struct{})
	grown := make(chan struct{})
	go func() {
		defer close(grown)
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		chunk := bytes.Repeat([]byte("more\n"), 1000)
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = f.Write(chunk)
				time.Sleep(time.Millisecond)
			}
		}
	}()
	res := run(t, env, cairnBin, "backup", "--read-concurrency", "1", filepath.Join(dir, "src"))
	close(stop)
	<-grown
	if res.code != 0 {
		t.Fatalf("backup of a growing file: %v", res)
	}
	if !strings.Contains(res.stderr, "growing.log") || !strings.Contains(res.stderr, "changed") {
		t.Errorf("no warning about the growing file:\n%s", res.stderr)
	}
	restic(t, env, "check", "--read-data")
}
