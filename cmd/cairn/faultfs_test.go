package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend/faulty"
	"github.com/cairn-backup/cairn/internal/testservers"
	"github.com/cairn-backup/cairn/internal/testservers/faultfs"
)

// under matches the paths below dir (relative to a fault mount).
func under(dir string) func(string) bool {
	return func(rel string) bool { return strings.HasPrefix(rel, dir+"/") }
}

// fired fails the test if a rule never hit: the test would test nothing.
func fired(t *testing.T, name string, a *faultfs.Armed) {
	t.Helper()
	if a.Hits() == 0 {
		t.Fatalf("rule %q never fired; the test tested nothing", name)
	}
	t.Logf("rule %q: %d faults on %d files", name, a.Hits(), len(a.Paths()))
}

// bothCheck runs check --read-data with cairn and restic on the repository
// in env (the fault rules disarmed).
func bothCheck(t *testing.T, env []string) {
	t.Helper()
	cairn(t, env, "check", "--read-data")
	restic(t, env, "check", "--read-data")
}

// dataFiles lists the pack files of the repository at repo (names only).
func dataFiles(t *testing.T, repo string) map[string]int64 {
	t.Helper()
	out := make(map[string]int64)
	err := filepath.WalkDir(filepath.Join(repo, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			out[strings.TrimPrefix(p, repo+"/")] = fi.Size()
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// noTempPacks fails if a failed run left a temporary pack in the
// repository at repo.
func noTempPacks(t *testing.T, repo string) {
	t.Helper()
	for p := range dataFiles(t, repo) {
		if strings.Contains(p, "-tmp-") {
			t.Errorf("temporary pack left behind: %s", p)
		}
	}
}

// goodTree fills src/good with a few files.
func goodTree(t *testing.T, src string) {
	t.Helper()
	writeRandom(t, filepath.Join(src, "good", "a"), 3<<20, 101)
	writeRandom(t, filepath.Join(src, "good", "sub", "b"), 64<<10, 102)
	writeFile(t, filepath.Join(src, "good"), "small.txt", "small\n")
}

// TestFaultFS runs real cairn processes against directories on a FUSE
// file system that injects faults: every run ends with exit code and a
// clear error (or success where the fault costs nothing), nothing that
// could be saved is lost, and cairn and restic both accept the repository
// afterwards.
func TestFaultFS(t *testing.T) {
	resticBin(t)

	t.Run("source read", func(t *testing.T) {
		t.Parallel()
		f := faultfs.Mount(t)
		src := f.Path("src")
		goodTree(t, src)
		writeRandom(t, filepath.Join(src, "bad-start"), 1<<20, 103)
		writeRandom(t, filepath.Join(src, "bad-half"), 6<<20, 104)
		env := repoEnv(filepath.Join(t.TempDir(), "repo"), "pw")
		cairn(t, env, "init")
		start := f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("src/bad-start")})
		half := f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("src/bad-half"), After: 3 << 20})
		res := run(t, env, cairnBin, "backup", "-q", src)
		fired(t, "read at start", start)
		fired(t, "read half way", half)
		start.Disarm()
		half.Disarm()
		// restic 0.19.1 with the same faults: exit 3, one "error: failed
		// to save <path>: read <path>: input/output error" line per file,
		// then "Warning: at least one source file could not be read"; the
		// snapshot leaves both files out.
		if res.code != 3 {
			t.Fatalf("backup with unreadable files: exit %d, want 3\n%v", res.code, res)
		}
		for _, name := range []string{"bad-start", "bad-half"} {
			p := filepath.Join(src, name)
			if want := "error: failed to save " + p + ": read " + p + ": input/output error\n"; !strings.Contains(res.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
			}
		}
		if !strings.HasSuffix(res.stderr, "Warning: at least one source file could not be read\n") {
			t.Errorf("stderr does not end with restic's warning:\n%s", res.stderr)
		}
		if lines := strings.Count(res.stderr, "\n"); lines != 3 {
			t.Errorf("stderr has %d lines, want 3:\n%s", lines, res.stderr)
		}
		dst := t.TempDir()
		cairn(t, env, "restore", "latest", "--target", dst)
		compareTrees(t, filepath.Join(src, "good"), filepath.Join(dst, src, "good"))
		for _, name := range []string{"bad-start", "bad-half"} {
			if _, err := os.Lstat(filepath.Join(dst, src, name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s is in the snapshot (%v); restic leaves an unreadable file out", name, err)
			}
		}
		bothCheck(t, env)
	})

	// Faults on writing packs: each fails the backup with one line and
	// exit 1 and leaves the repository as it was, except short writes,
	// which the writer must simply complete.
	for _, tc := range []struct {
		name string
		rule faultfs.Rule
		want string // in the one error line; "" means the backup succeeds
	}{
		{"pack write EIO", faultfs.Rule{Op: faultfs.Write, After: 1 << 20}, "input/output error"},
		{"pack write ENOSPC", faultfs.Rule{Op: faultfs.Write, After: 1 << 20, Err: syscall.ENOSPC}, "no space left on device"},
		{"pack fsync", faultfs.Rule{Op: faultfs.Fsync}, "fsync"},
		{"pack short writes", faultfs.Rule{Op: faultfs.Write, Short: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := faultfs.Mount(t)
			repo := f.Path("repo")
			env := append(repoEnv(repo, "pw"), "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
			cairn(t, env, "init")
			first := t.TempDir()
			goodTree(t, first)
			cairn(t, env, "backup", "-q", first)
			big := t.TempDir()
			for i := range 3 {
				writeRandom(t, filepath.Join(big, fmt.Sprintf("f%d", i)), 7<<20, uint64(110+i))
			}
			rule := tc.rule
			rule.Match = faultfs.Glob("repo/data/*") // the temporary packs, data/pack-tmp-*
			a := f.Arm(rule)
			res := run(t, env, cairnBin, "backup", "-q", big)
			fired(t, tc.name, a)
			a.Disarm()
			if tc.want == "" {
				if res.code != 0 || res.stderr != "" {
					t.Fatalf("backup with short writes: %v", res)
				}
			} else {
				oneLine(t, res, 1, tc.want, "Fatal: ")
				t.Logf("%s: %s", tc.name, strings.TrimSpace(res.stderr))
				noTempPacks(t, repo)
				if ids := snapshotIDs(t, env); len(ids) != 1 {
					t.Fatalf("%d snapshots after the failed backup, want 1", len(ids))
				}
				bothCheck(t, env)
				cairn(t, env, "backup", "-q", big)
			}
			dst := t.TempDir()
			cairn(t, env, "restore", "latest", "--target", dst)
			compareTrees(t, big, filepath.Join(dst, big))
			bothCheck(t, env)
		})
	}

	t.Run("pack read", func(t *testing.T) {
		t.Parallel()
		f := faultfs.Mount(t)
		repo := f.Path("repo")
		env := append(repoEnv(repo, "pw"), "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
		cairn(t, env, "init")
		src := t.TempDir()
		goodTree(t, src)
		cairn(t, env, "backup", "-q", src)
		before := dataFiles(t, repo)
		writeRandom(t, filepath.Join(src, "late", "c"), 4<<20, 120)
		cairn(t, env, "backup", "-q", src)
		// The largest new pack holds the data of late/c.
		var lost string
		for p, size := range dataFiles(t, repo) {
			if _, ok := before[p]; !ok && (lost == "" || size > dataFiles(t, repo)[lost]) {
				lost = p
			}
		}
		id := filepath.Base(lost)
		a := f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("repo/" + lost)})

		dst := t.TempDir()
		res := run(t, env, cairnBin, "restore", "latest", "--target", dst)
		fired(t, "pack read in restore", a)
		if res.code != 1 || !strings.Contains(res.stderr, filepath.Join(src, "late", "c")) ||
			!strings.Contains(res.stderr, "read pack "+id[:8]) || !strings.Contains(res.stderr, "input/output error") {
			t.Fatalf("restore with an unreadable pack: want exit 1 naming the file and pack %s\n%v", id[:8], res)
		}
		t.Logf("restore: %s", strings.TrimSpace(res.stderr))
		compareTrees(t, filepath.Join(src, "good"), filepath.Join(dst, src, "good"))

		res = run(t, env, cairnBin, "check", "--read-data")
		if res.code != 1 || !strings.Contains(res.stderr, "pack "+id) || !strings.Contains(res.stderr, "input/output error") ||
			!strings.HasSuffix(res.stderr, "Fatal: repository contains errors\n") {
			t.Fatalf("check --read-data with an unreadable pack: want exit 1 naming pack %s\n%v", id, res)
		}
		a.Disarm()
		bothCheck(t, env)
	})

	t.Run("index and snapshot read", func(t *testing.T) {
		t.Parallel()
		f := faultfs.Mount(t)
		repo := f.Path("repo")
		env := append(repoEnv(repo, "pw"), "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
		cairn(t, env, "init")
		src := t.TempDir()
		goodTree(t, src)
		cairn(t, env, "backup", "-q", src)

		a := f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("repo/index/*")})
		res := run(t, env, cairnBin, "--no-cache", "restore", "latest", "--target", t.TempDir())
		oneLine(t, res, 1, "Fatal: load index/", "input/output error")
		res = run(t, env, cairnBin, "--no-cache", "check")
		if res.code != 1 || !strings.Contains(res.stderr, "error: index ") || !strings.HasSuffix(res.stderr, "Fatal: repository contains errors\n") {
			t.Errorf("check with an unreadable index: want exit 1 naming the index\n%v", res)
		}
		fired(t, "index read", a)
		a.Disarm()

		// As restic: listing skips an unreadable snapshot with a warning;
		// a command that needs it finds none.
		a = f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("repo/snapshots/*")})
		res = run(t, env, cairnBin, "--no-cache", "snapshots", "--json")
		if res.code != 0 || !strings.HasPrefix(res.stderr, "Ignoring \"") || !strings.Contains(res.stderr, "input/output error") || strings.TrimSpace(res.stdout) != "[]" {
			t.Errorf("snapshots with an unreadable snapshot file: %v", res)
		}
		res = run(t, env, cairnBin, "--no-cache", "restore", "latest", "--target", t.TempDir())
		if res.code != 1 || !strings.HasSuffix(res.stderr, "Fatal: latest snapshot: no matching snapshot found\n") {
			t.Errorf("restore with an unreadable snapshot file: %v", res)
		}
		fired(t, "snapshot read", a)
		a.Disarm()
		bothCheck(t, env)
	})

	t.Run("cache", func(t *testing.T) {
		t.Parallel()
		f := faultfs.Mount(t)
		env := append(repoEnv(filepath.Join(t.TempDir(), "repo"), "pw"), "RESTIC_CACHE_DIR="+f.Path("cache"))
		cairn(t, env, "init")
		src := t.TempDir()
		goodTree(t, src)
		cairn(t, env, "backup", "-q", src) // fills the cache
		// Writes fail; then reads of the cached files (not of the
		// version file, which would end the use of the cache at once);
		// then every read.
		files := func(rel string) bool { return under("cache")(rel) && filepath.Base(rel) != "version" }
		for i, rule := range []faultfs.Rule{
			{Op: faultfs.Write, Match: under("cache")},
			{Op: faultfs.Read, Match: files},
			{Op: faultfs.Read, Match: under("cache")},
		} {
			writeRandom(t, filepath.Join(src, fmt.Sprintf("more%d", i)), 2<<20, uint64(130+i))
			a := f.Arm(rule)
			for _, args := range [][]string{
				{"backup", "-q", src},
				{"restore", "latest", "--target", t.TempDir()},
				{"check"},
			} {
				res := run(t, env, cairnBin, args...)
				if res.code != 0 {
					t.Fatalf("cairn %v with a failing cache: %v", args, res)
				}
				for _, l := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
					if l != "" && !strings.HasPrefix(strings.ToLower(l), "warning: ") {
						t.Errorf("cairn %v with a failing cache printed more than a warning: %q", args, l)
					}
				}
				t.Logf("cache %s %d, cairn %v: %s", rule.Op, i, args[0], strings.TrimSpace(res.stderr))
			}
			fired(t, fmt.Sprintf("cache %s %d", rule.Op, i), a)
			a.Disarm()
		}
		dst := t.TempDir()
		cairn(t, env, "restore", "latest", "--target", dst)
		compareTrees(t, src, filepath.Join(dst, src))
		bothCheck(t, env)
	})

	t.Run("restore target write", func(t *testing.T) {
		t.Parallel()
		f := faultfs.Mount(t)
		env := append(repoEnv(filepath.Join(t.TempDir(), "repo"), "pw"), "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
		cairn(t, env, "init")
		src := t.TempDir()
		goodTree(t, src)
		writeRandom(t, filepath.Join(src, "bad"), 2<<20, 140)
		cairn(t, env, "backup", "-q", src)
		dst := f.Path("dst")
		// The restorer writes .bad.<suffix> and renames it to bad.
		a := f.Arm(faultfs.Rule{Op: faultfs.Write, Match: faultfs.Glob("dst" + src + "/.bad*"), After: 1 << 20})
		res := run(t, env, cairnBin, "restore", "latest", "--target", dst)
		fired(t, "restore write", a)
		a.Disarm()
		bad := filepath.Join(dst, src, "bad")
		if res.code != 1 || !strings.Contains(res.stderr, bad) || !strings.Contains(res.stderr, "input/output error") {
			t.Fatalf("restore onto a failing file: want exit 1 naming %s\n%v", bad, res)
		}
		t.Logf("restore: %s", strings.TrimSpace(res.stderr))
		compareTrees(t, filepath.Join(src, "good"), filepath.Join(dst, src, "good"))
		bothCheck(t, env)
	})
}

// started is a cairn process running in the background.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	res            result
}

// background starts cairn with args as run would, without waiting.
func background(t *testing.T, env []string, args ...string) *started {
	t.Helper()
	s := &started{done: make(chan struct{})}
	s.cmd = exec.CommandContext(t.Context(), cairnBin, args...)
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC", "CAIRN_KDF_PARAMS=1024,8,1"}, env...)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	must(t, s.cmd.Start())
	go func() {
		defer close(s.done)
		err := s.cmd.Wait()
		s.res = result{stdout: s.stdout.String(), stderr: s.stderr.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s.res.code = ee.ExitCode()
		}
	}()
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); <-s.done })
	return s
}

// running reports whether the process has not ended yet.
func (s *started) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// wait waits up to limit for the process and returns its result; a
// process still running then fails the test (a hang).
func (s *started) wait(t *testing.T, limit time.Duration) result {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(limit):
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		<-s.done
		t.Fatalf("cairn %v still ran after %v: a hang\n%s", s.cmd.Args[1:], limit, s.stderr.String())
	}
	if strings.Contains(s.res.stderr, "panic:") || strings.Contains(s.res.stderr, "goroutine ") {
		t.Fatalf("cairn %v crashed:\n%v", s.cmd.Args[1:], s.res)
	}
	return s.res
}

// waitUntil polls cond until it holds, for at most limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestDirectoryRemovedMidRun removes the cache directory, then the
// repository directory, while a backup runs: without the cache the backup
// goes on; without the repository it stops with one line, in bounded time.
func TestDirectoryRemovedMidRun(t *testing.T) {
	resticBin(t)
	src := t.TempDir()
	for i := range 24 {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%02d", i)), 8<<20, uint64(200+i))
	}

	t.Run("cache", func(t *testing.T) {
		cache := filepath.Join(t.TempDir(), "cache")
		env := append(repoEnv(filepath.Join(t.TempDir(), "repo"), "pw"), "RESTIC_CACHE_DIR="+cache)
		cairn(t, env, "init")
		cairn(t, env, "backup", "-q", filepath.Join(src, "f00")) // fills the cache
		b := background(t, env, "backup", "-q", src)
		removed := 0
		for b.running() {
			if _, err := os.Stat(cache); err == nil {
				// The backup may write into the cache while it goes:
				// "directory not empty" leaves it for the next round.
				switch err := os.RemoveAll(cache); {
				case err == nil:
					removed++
				case !errors.Is(err, syscall.ENOTEMPTY):
					t.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		res := b.wait(t, time.Minute)
		if removed == 0 {
			t.Fatal("the cache was never removed; the test tested nothing")
		}
		t.Logf("cache removed %d times during the backup", removed)
		if res.code != 0 {
			t.Fatalf("backup while its cache is removed: %v", res)
		}
		cairn(t, env, "check")
		restic(t, env, "check", "--read-data")
		if n := len(snapshotIDs(t, env)); n != 2 {
			t.Fatalf("%d snapshots, want 2", n)
		}
	})

	for _, how := range []string{"renamed", "removed"} {
		t.Run("repository "+how, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			env := append(repoEnv(repo, "pw"), "RESTIC_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
			cairn(t, env, "init")
			b := background(t, env, "backup", "-q", src)
			waitUntil(t, time.Minute, "the first pack", func() bool {
				return slices.ContainsFunc(slices.Collect(maps.Keys(dataFiles(t, repo))), func(p string) bool { return !strings.Contains(p, "-tmp-") })
			})
			moved := repo + ".moved"
			if how == "renamed" {
				must(t, os.Rename(repo, moved))
			} else {
				// rm -rf, made atomic by a rename first, so that
				// the removal does not race with the writes.
				must(t, os.Rename(repo, moved))
				must(t, os.RemoveAll(moved))
			}
			res := b.wait(t, time.Minute)
			t.Logf("backup with the repository %s: %v", how, res)
			oneLine(t, res, 1, "Fatal: ")
			if _, err := os.Stat(repo); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the backup made a new directory where the repository was (%v):\n%s", err, treeState(t, repo))
			}
			if how == "renamed" {
				must(t, os.Rename(moved, repo))
				cairn(t, env, "unlock")
				cairn(t, env, "check", "--read-data")
				restic(t, env, "check", "--read-data")
			}
		})
	}
}

// TestRESTStall backs up to rest-server through a proxy that stops
// forwarding bytes for a while, keeping the connections open. With the
// default --stuck-request-timeout (5 min) the backup waits the stall out;
// with a short one the stuck requests fail after that long and are
// retried on new connections, so a stall that outlasts the timeout is
// not a hang.
func TestRESTStall(t *testing.T) {
	resticBin(t)
	for _, tc := range []struct {
		name    string
		args    []string
		stall   time.Duration
		retries bool // stuck requests must be reported as retried
	}{
		{"wait it out", nil, 3 * time.Second, false},
		{"timeout and retry", []string{"--stuck-request-timeout", "1s"}, 5 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := testservers.RestServer(t, "--no-auth")
			p, err := faulty.NewProxy(strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			viaProxy := restRemote("http://" + p.Addr())
			direct := viaProxy
			direct.repo = strings.Replace(viaProxy.repo, p.Addr(), strings.TrimPrefix(base, "http://"), 1)
			viaProxy.cairn(t, "init")
			src := faultSource(t)
			b := background(t, viaProxy.envFor(), append(tc.args, "backup", "-q", src)...)
			waitUntil(t, time.Minute, "uploads under way", func() bool { return p.Forwarded() > 4<<20 || !b.running() })
			p.Stall(true)
			time.Sleep(tc.stall)
			p.Stall(false)
			res := b.wait(t, 2*time.Minute)
			if p.Stalled() == 0 {
				t.Fatal("no traffic was held; the test tested nothing")
			}
			if res.code != 0 {
				t.Fatalf("backup through a stall: %v", res)
			}
			t.Logf("backup through a %v stall: %s", tc.stall, strings.TrimSpace(res.stderr))
			if got := strings.Contains(res.stderr, "no progress for 1s"); got != tc.retries {
				t.Errorf("stuck requests retried: %v, want %v\n%s", got, tc.retries, res.stderr)
			}
			direct.restic(t, "check", "--read-data")
			dst := t.TempDir()
			direct.cairn(t, "restore", "latest", "--target", dst)
			compareTrees(t, src, filepath.Join(dst, src))
		})
	}
}
