package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests here run many cairn (and restic) processes on one cache
// directory, with cleanups and faults, and check that no cache problem
// fails a command or the repository.
//
// Every process must exit 0. What it may print on stderr: "using parent
// snapshot …", and the cache warnings the test names (a cache removed
// under a process, read-only, full), which are logged and, where a fault
// must cause one, required. Any other line fails the test: in particular,
// any line that reports an error, and any other cache warning.

// proc is a finished process of a concurrent run.
type proc struct {
	args []string
	res  result
	err  error // could not start
}

// spawn runs a process like run does (clean environment plus env; the
// last value of a variable wins, as os/exec documents), without a
// *testing.T, so that goroutines can use it.
func spawn(t *testing.T, home string, env []string, name string, args ...string) proc {
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + os.TempDir(),
		"TZ=UTC",
		"CAIRN_KDF_PARAMS=1024,8,1",
	}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	p := proc{args: append([]string{filepath.Base(name)}, args...), res: result{stdout: stdout.String(), stderr: stderr.String()}}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		p.res.code = ee.ExitCode()
	default:
		p.err = err
	}
	return p
}

// command is one process to run: binary and arguments.
type command struct {
	bin  string
	args []string
}

// loops runs each command over and over, each in its own goroutine,
// until stop is called; stop returns every finished process.
func loops(t *testing.T, home string, env []string, cmds []command) (stop func() []proc) {
	var (
		mu   sync.Mutex
		out  []proc // guarded by mu
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	for _, c := range cmds {
		wg.Go(func() {
			for {
				p := spawn(t, home, env, c.bin, c.args...)
				mu.Lock()
				out = append(out, p)
				mu.Unlock()
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	return func() []proc {
		close(done)
		wg.Wait()
		return out
	}
}

// stderrPolicy says which stderr lines of a process are fine.
type stderrPolicy struct {
	// warn matches the cache warnings the test tolerates (nil: none).
	warn *regexp.Regexp
	// extra matches further tolerated lines (restic's own messages).
	extra *regexp.Regexp
}

var (
	// resticLockRetry is restic 0.14 loading a lock file that it listed
	// and that its owner removed before the load: it retries the load (up
	// to ten times) and then goes on without it. Later releases do not
	// retry a missing file; the line is restic's, not a fault of cairn's.
	resticLockRetry = regexp.MustCompile(`^Load\(<lock/[0-9a-f]+>, 0, 0\) returned error, retrying after .*: (.*no such file or directory|The specified key does not exist\.|.*file does not exist|.*404.*)$`)
	parentLine      = regexp.MustCompile(`^using parent snapshot [0-9a-f]{8}$`)
	cacheWarned     = regexp.MustCompile(`^warning: .*cache`)
	// vanishedWarning is a cache given up because its directory was
	// removed under it (twice in a row for one entry, or during setup).
	vanishedWarning = regexp.MustCompile(`^warning: cache.*: (no such file or directory|file exists)(; going on without a cache)?$`)
)

// onlyLines reports whether every non-empty line of out matches re.
func onlyLines(out string, re *regexp.Regexp) bool {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !re.MatchString(l) {
			return false
		}
	}
	return true
}

// check fails the test unless p exited 0 with only allowed stderr lines,
// and returns its (tolerated) cache warnings.
func (pol stderrPolicy) check(t *testing.T, p proc) []string {
	t.Helper()
	if p.err != nil {
		t.Errorf("%v: %v", p.args, p.err)
		return nil
	}
	if p.res.code != 0 {
		t.Errorf("%v: %v", p.args, p.res)
	}
	var warns []string
	for _, l := range strings.Split(p.res.stderr, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || parentLine.MatchString(l):
		case cacheWarned.MatchString(l) && pol.warn != nil && pol.warn.MatchString(l):
			warns = append(warns, l)
			t.Logf("%v: tolerated cache warning: %s", p.args[:2], l)
		case pol.extra != nil && pol.extra.MatchString(l):
			t.Logf("%v: tolerated: %s", p.args[:2], l)
		default:
			t.Errorf("%v: unexpected stderr line %q\n%v", p.args, l, p.res)
		}
	}
	return warns
}

// savedSnapshot returns the short ID a backup printed.
func savedSnapshot(t *testing.T, stdout string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^snapshot ([0-9a-f]{8}) saved$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Errorf("no saved snapshot in:\n%s", stdout)
		return ""
	}
	return m[1]
}

// checkSnapshots fails the test unless the repository has exactly the
// snapshots with the short IDs want.
func checkSnapshots(t *testing.T, env []string, want []string) {
	t.Helper()
	var got []string
	for _, l := range sortedLines(restic(t, env, "list", "snapshots")) {
		got = append(got, l[:8])
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("snapshots in the repository = %q, want %q", got, want)
	}
}

// checkCacheFiles fails the test unless every file in the cache base is a
// setup file or an entry whose content matches its name: no partial or
// wrong entries, and no temporary, lock or half-removed leftovers.
func checkCacheFiles(t *testing.T, base string) (entries int) {
	t.Helper()
	hexName := regexp.MustCompile(`^[0-9a-f]{64}$`)
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		parts := strings.Split(rel, string(filepath.Separator))
		if d.IsDir() {
			if len(parts) == 1 && rel != "." && !hexName.MatchString(rel) {
				t.Errorf("cache: unexpected directory %s", rel)
			}
			return nil
		}
		switch {
		case rel == "CACHEDIR.TAG" || len(parts) == 2 && parts[1] == "version":
		case len(parts) == 4 && hexName.MatchString(parts[3]) && strings.HasPrefix(parts[3], parts[2]):
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != parts[3] {
				t.Errorf("cache: %s does not match its name (%d bytes)", rel, len(b))
			}
			entries++
		default:
			t.Errorf("cache: unexpected file %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// makeBackupSource fills dir with a few MB in several files and
// directories (so a backup writes several trees), varying with seed.
func makeBackupSource(t *testing.T, dir string, seed uint64) {
	t.Helper()
	for i := range 4 {
		writeRandom(t, filepath.Join(dir, fmt.Sprintf("big%d", i)), 1<<20+int(seed%7)<<14, seed*100+uint64(i))
	}
	for i := range 120 {
		writeFile(t, dir, fmt.Sprintf("sub%d/deep%d/f%03d.txt", i%4, i%3, i), strings.Repeat(fmt.Sprintf("%d-%d ", seed, i), 50+i))
	}
}

// changeBackupSource adds new data and changes a small file, so that the
// next backup writes new data and tree packs.
func changeBackupSource(t *testing.T, dir string, seed, round uint64) {
	t.Helper()
	writeRandom(t, filepath.Join(dir, fmt.Sprintf("new%d", round)), 1<<20, seed*1000+round)
	writeFile(t, dir, "sub0/deep0/f00.txt", fmt.Sprintf("round %d of %d", round, seed))
}

// TestCacheStressSharedCache: six cairn processes back up different
// directories into one repository through one cache directory, three
// rounds, while a loop of other processes lists snapshots (clearing stale
// snapshot entries), lists files (clearing stale packs after loading the
// index) and runs `cache --cleanup --max-age 0`, which removes the whole
// repository cache directory each time: the harshest cleanup there is.
//
// Every process exits 0 and prints no error. One kind of cache warning is
// tolerated (and logged) here, in a run that succeeded: the cache given up
// because its directory was removed under it. A store whose directory
// vanishes sets it up again and retries once; when the next cleanup
// removes it again before the rename (the loop removes it every few
// milliseconds), the process warns once and goes on without the cache, as
// designed. Which warnings happen is timing; that every run succeeds is
// not.
func TestCacheStressSharedCache(t *testing.T) {
	const procs, rounds = 6, 3
	base, home, plain, env := newCacheRepo(t)
	first := t.TempDir()
	writeFile(t, first, "a", "a")
	snaps := []string{savedSnapshot(t, cairn(t, env, "backup", first))}
	// run puts its own RESTIC_CACHE_DIR first; ours, later, won.
	if len(repoCacheDirs(t, base)) != 1 {
		t.Fatalf("the backup did not use the cache base %s: the last RESTIC_CACHE_DIR in the environment must win", base)
	}
	srcs := make([]string, procs)
	for i := range srcs {
		srcs[i] = t.TempDir()
		makeBackupSource(t, srcs[i], uint64(i))
	}

	pol := stderrPolicy{warn: vanishedWarning}
	var warned int
	var cleanups int
	for round := range rounds {
		if round > 0 {
			for i, src := range srcs {
				changeBackupSource(t, src, uint64(i), uint64(round))
			}
		}
		var wg sync.WaitGroup
		backups := make([]proc, procs)
		for i, src := range srcs {
			wg.Go(func() { backups[i] = spawn(t, home, env, cairnBin, "backup", src) })
		}
		stop := loops(t, home, env, []command{
			{cairnBin, []string{"snapshots"}},
			{cairnBin, []string{"ls", "latest"}},
			{cairnBin, []string{"cache", "--cleanup", "--max-age", "0"}},
		})
		wg.Wait()
		loop := stop()
		for _, p := range backups {
			warned += len(pol.check(t, p))
			if p.res.code == 0 {
				snaps = append(snaps, savedSnapshot(t, p.res.stdout))
			}
		}
		for _, p := range loop {
			warned += len(pol.check(t, p))
			if p.args[1] == "cache" && strings.HasPrefix(p.res.stdout, "removed 1 ") {
				cleanups++
			}
		}
		t.Logf("round %d: %d cleanup-loop processes, %d removals of the cache directory so far", round, len(loop), cleanups)
	}
	if cleanups == 0 {
		t.Error("no cleanup removed the cache directory while backups ran")
	}
	t.Logf("%d cache warnings in %d rounds", warned, rounds)
	checkSnapshots(t, plain, snaps)
	restic(t, plain, "check", "--read-data")
	// One more backup through the same cache after the storm: it uses it.
	last := spawn(t, home, env, cairnBin, "backup", srcs[0])
	(stderrPolicy{}).check(t, last) // no cache warning at all
	if n := checkCacheFiles(t, base); n == 0 {
		t.Error("the shared cache directory holds no entries")
	}
}

// TestCacheSharedWithRestic: cairn and restic 0.14 processes use one
// cache directory at once (RESTIC_CACHE_DIR for both): cairn backups,
// restic backups, and both tools listing snapshots and files, which
// clears stale entries. Neither tool fails. restic ≤ 0.16 reports races
// of its own cleanup with another process's ("error clearing … files in
// cache", restic #4760 and PR #5047, fixed in 0.17) without failing, and
// restic 0.14 reports retries of loading a lock file another process has
// just removed; those lines are tolerated and logged, nothing else.
func TestCacheSharedWithRestic(t *testing.T) {
	const rounds = 2
	resticBin(t)
	base, home, plain, env := newCacheRepo(t)
	first := t.TempDir()
	makeBackupSource(t, first, 99)
	snaps := []string{savedSnapshot(t, cairn(t, env, "backup", first))}
	type job struct {
		bin string
		src string
	}
	var jobs []job
	for i := range 6 {
		bin := cairnBin
		if i%3 == 2 {
			bin = resticBin(t)
		}
		src := t.TempDir()
		makeBackupSource(t, src, uint64(i))
		jobs = append(jobs, job{bin, src})
	}
	cairnPol := stderrPolicy{}
	resticPol := stderrPolicy{extra: regexp.MustCompile(`^error clearing (index|pack|snapshot) files in cache: |` + resticLockRetry.String())}
	policy := func(p proc) stderrPolicy {
		if p.args[0] == "cairn" {
			return cairnPol
		}
		return resticPol
	}
	for round := range rounds {
		if round > 0 {
			for i, j := range jobs {
				changeBackupSource(t, j.src, uint64(i), uint64(round))
			}
		}
		var wg sync.WaitGroup
		backups := make([]proc, len(jobs))
		for i, j := range jobs {
			wg.Go(func() { backups[i] = spawn(t, home, env, j.bin, "backup", j.src) })
		}
		// The listings run without locks: restic 0.14 retries loading a
		// lock file that vanished between its listing and its load, for
		// up to a minute (fixed in later restic), and many short-lived
		// locks of listing processes make that likely. The backups of
		// both tools still lock.
		stop := loops(t, home, env, []command{
			{resticBin(t), []string{"--no-lock", "snapshots"}},
			{cairnBin, []string{"--no-lock", "snapshots"}},
			{resticBin(t), []string{"--no-lock", "ls", "latest"}},
			{cairnBin, []string{"--no-lock", "ls", "latest"}},
		})
		wg.Wait()
		loop := stop()
		for _, p := range backups {
			policy(p).check(t, p)
			if p.res.code == 0 {
				snaps = append(snaps, savedSnapshot(t, p.res.stdout))
			}
		}
		for _, p := range loop {
			policy(p).check(t, p)
		}
		t.Logf("round %d: %d listing processes", round, len(loop))
	}
	checkSnapshots(t, plain, snaps)
	restic(t, plain, "check", "--read-data")
	// Both tools read what the other cached, sequentially too.
	for _, bin := range []string{cairnBin, resticBin(t)} {
		p := spawn(t, home, env, bin, "ls", "latest")
		policy(p).check(t, p)
	}
	if n := checkCacheFiles(t, base); n == 0 {
		t.Error("the shared cache directory holds no entries")
	}
}

// repoCacheDirs returns the repository directories in a cache base.
// newCacheRepo makes a repository with cairn init and returns a cache
// base and a home directory (both empty), the repository's environment
// (plain) and the same with the cache base set (env).
func newCacheRepo(t *testing.T) (base, home string, plain, env []string) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	base = filepath.Join(t.TempDir(), "cache")
	home = t.TempDir()
	plain = repoEnv(repo, "pw")
	env = append(slices.Clone(plain), "RESTIC_CACHE_DIR="+base)
	cairn(t, env, "init")
	return base, home, plain, env
}

func repoCacheDirs(t *testing.T, base string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(base, strings.Repeat("[0-9a-f]", 64)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mountTmpfs mounts a tmpfs with options opts on dir (created if needed)
// and unmounts it when the test ends. Without the privilege to mount the
// test is skipped, except under CI=true, where tests run as root and a
// skip would hide the case.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
		}
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// remountReadOnly makes the tmpfs on dir read-only. (Root ignores file
// modes, so chmod cannot make a cache read-only in CI.)
func remountReadOnly(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s read-only: %v: %s", dir, err, out)
	}
}

// requireWarning fails the test unless warns has one.
func requireWarning(t *testing.T, what string, warns []string) {
	t.Helper()
	if len(warns) == 0 {
		t.Errorf("%s: no warning about the cache on stderr", what)
	}
}

// TestCacheRemovedDuringBackup: the repository's cache directory is
// removed again and again while a backup of ~200 MB runs (and reads the
// parent's trees through the cache). The backup succeeds, the repository
// is sound, and the next run uses the cache again. The backup sets the
// directories up again as it stores; if a removal hits the same store
// twice it warns once and goes on without the cache, which is tolerated.
func TestCacheRemovedDuringBackup(t *testing.T) {
	base, home, plain, env := newCacheRepo(t)
	src := t.TempDir()
	makeBackupSource(t, src, 1)
	snaps := []string{savedSnapshot(t, cairn(t, env, "backup", src))}
	if len(repoCacheDirs(t, base)) != 1 {
		t.Fatalf("no repository directory in the cache base %s", base)
	}
	for i := range 40 {
		writeRandom(t, filepath.Join(src, "large", fmt.Sprintf("d%d", i%8), fmt.Sprintf("f%02d", i)), 5<<20, uint64(100+i))
	}

	done := make(chan struct{})
	var removals int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, d := range repoCacheDirs(t, base) {
				if os.RemoveAll(d) == nil {
					removals++
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	p := spawn(t, home, env, cairnBin, "backup", src)
	close(done)
	wg.Wait()
	warns := stderrPolicy{warn: vanishedWarning}.check(t, p)
	t.Logf("%d removals of the cache directory during the backup, %d warnings", removals, len(warns))
	if removals < 2 {
		t.Errorf("the cache directory was removed %d times during the backup, want several", removals)
	}
	snaps = append(snaps, savedSnapshot(t, p.res.stdout))
	checkSnapshots(t, plain, snaps)
	restic(t, plain, "check", "--read-data")

	p = spawn(t, home, env, cairnBin, "backup", src)
	(stderrPolicy{}).check(t, p)
	snaps = append(snaps, savedSnapshot(t, p.res.stdout))
	checkSnapshots(t, plain, snaps)
	if n := checkCacheFiles(t, base); n == 0 {
		t.Error("the cache holds no entries after a backup")
	}
}

// TestCacheReadOnly: a read-only cache (a tmpfs remounted read-only, since
// root ignores file modes) warns and the commands succeed without it,
// whether it is empty or holds the repository's cache already.
func TestCacheReadOnly(t *testing.T) {
	readOnly := regexp.MustCompile(`^warning: .*cache.*read-only file system`)
	for _, populated := range []bool{false, true} {
		t.Run(fmt.Sprintf("populated=%v", populated), func(t *testing.T) {
			base, home, plain, env := newCacheRepo(t)
			mountTmpfs(t, base, "size=16m")
			src := t.TempDir()
			makeBackupSource(t, src, 2)
			var snaps []string
			if populated {
				snaps = append(snaps, savedSnapshot(t, cairn(t, env, "backup", src)))
				if checkCacheFiles(t, base) == 0 {
					t.Fatal("first backup cached nothing")
				}
			}
			remountReadOnly(t, base)
			changeBackupSource(t, src, 2, 1)
			pol := stderrPolicy{warn: readOnly}
			p := spawn(t, home, env, cairnBin, "backup", src)
			requireWarning(t, "backup", pol.check(t, p))
			snaps = append(snaps, savedSnapshot(t, p.res.stdout))
			for _, args := range [][]string{{"snapshots"}, {"ls", "latest"}} {
				pol.check(t, spawn(t, home, env, cairnBin, args...))
			}
			checkSnapshots(t, plain, snaps)
			restic(t, plain, "check")
		})
	}
}

// TestCacheFull: a cache on a 64 KiB file system fills up in the first
// backup (its index and tree packs do not fit): the backup warns and
// succeeds, the repository is sound, and the full cache holds no partial
// or temporary files. The next backup succeeds too.
func TestCacheFull(t *testing.T) {
	base, home, plain, env := newCacheRepo(t)
	mountTmpfs(t, base, "size=64k")
	src := t.TempDir()
	makeBackupSource(t, src, 3)
	// Many files with long names: big trees and a big index.
	for i := range 1500 {
		writeFile(t, src, fmt.Sprintf("many/%02d/file-with-a-rather-long-name-%05d.txt", i%30, i), fmt.Sprintf("content %d", i))
	}
	full := regexp.MustCompile(`^warning: .*cache.*no space left on device`)
	pol := stderrPolicy{warn: full}
	var snaps []string
	p := spawn(t, home, env, cairnBin, "backup", src)
	requireWarning(t, "backup into a full cache", pol.check(t, p))
	snaps = append(snaps, savedSnapshot(t, p.res.stdout))
	checkCacheFiles(t, base)

	changeBackupSource(t, src, 3, 1)
	p = spawn(t, home, env, cairnBin, "backup", src)
	pol.check(t, p)
	snaps = append(snaps, savedSnapshot(t, p.res.stdout))
	pol.check(t, spawn(t, home, env, cairnBin, "ls", "latest"))
	checkCacheFiles(t, base)
	checkSnapshots(t, plain, snaps)
	restic(t, plain, "check", "--read-data")
}

// TestCacheCorruptEntries: index, snapshot and tree pack entries of the
// cache are truncated, bit-flipped or emptied before a run. The runs
// (backup with a parent, snapshots, ls of every snapshot) succeed without
// a warning, and the bad entries are replaced by good ones.
func TestCacheCorruptEntries(t *testing.T) {
	base, home, plain, env := newCacheRepo(t)
	src := t.TempDir()
	makeBackupSource(t, src, 4)
	snaps := []string{savedSnapshot(t, cairn(t, env, "backup", src))}
	changeBackupSource(t, src, 4, 1)
	snaps = append(snaps, savedSnapshot(t, cairn(t, env, "backup", src)))

	dirs := repoCacheDirs(t, base)
	if len(dirs) != 1 {
		t.Fatalf("cache directories: %q, want 1", dirs)
	}
	damage := []struct {
		name string
		fn   func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"bit flip", func(b []byte) []byte { b[len(b)/2] ^= 0x04; return b }},
		{"empty", func([]byte) []byte { return nil }},
	}
	var damaged []string
	for k, typ := range []string{"index", "snapshots", "data"} {
		entries, _ := filepath.Glob(filepath.Join(dirs[0], typ, "*", "*"))
		if len(entries) == 0 {
			t.Fatalf("no cached %s entries to damage", typ)
		}
		for i, e := range entries {
			b, err := os.ReadFile(e)
			must(t, err)
			d := damage[(i+k)%len(damage)]
			must(t, os.WriteFile(e, d.fn(b), 0o600))
			damaged = append(damaged, e)
			t.Logf("%s/%.8s: %s", typ, filepath.Base(e), d.name)
		}
	}

	changeBackupSource(t, src, 4, 2)
	p := spawn(t, home, env, cairnBin, "backup", src)
	(stderrPolicy{}).check(t, p)
	snaps = append(snaps, savedSnapshot(t, p.res.stdout))
	(stderrPolicy{}).check(t, spawn(t, home, env, cairnBin, "snapshots"))
	for _, s := range snaps {
		(stderrPolicy{}).check(t, spawn(t, home, env, cairnBin, "ls", s))
	}
	for _, e := range damaged {
		b, err := os.ReadFile(e)
		if err != nil {
			t.Errorf("damaged entry %s was not replaced: %v", e, err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != filepath.Base(e) {
			t.Errorf("damaged entry %s is still bad (%d bytes)", e, len(b))
		}
	}
	checkCacheFiles(t, base)
	checkSnapshots(t, plain, snaps)
	restic(t, plain, "check", "--read-data")
}
