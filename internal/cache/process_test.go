package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/cache"
)

// The helper processes: the test binary re-executed with helperEnv set to
// a mode. They read their parameters from the environment, start together
// when the file $CACHE_TEST_GO appears, print problems on stderr and exit
// non-zero on any of them, warnings included.
const helperEnv = "CAIRN_CACHE_TEST_HELPER"

func runHelper(mode string) int {
	base := os.Getenv("CACHE_TEST_BASE")
	n, _ := strconv.Atoi(os.Getenv("CACHE_TEST_N"))
	if err := waitFor(os.Getenv("CACHE_TEST_GO")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var problems []string
	warn := func(err error) { problems = append(problems, "warning: "+err.Error()) }
	var err error
	switch mode {
	case "open":
		err = helperOpen(base, n, warn)
	case "clear":
		err = helperClear(base, n, warn)
	case "warm":
		err = helperWarm(base, n, os.Getenv("CACHE_TEST_LOG"), warn)
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		problems = append(problems, "error: "+err.Error())
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p)
	}
	if len(problems) > 0 {
		return 1
	}
	return 0
}

// waitFor polls for path to exist, the start signal of a helper.
func waitFor(path string) error {
	if path == "" {
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("no start signal %s", path)
}

// helperOpen opens fresh caches base/0 … base/n-1, racing with the other
// helpers doing the same.
func helperOpen(base string, n int, warn func(error)) error {
	for i := range n {
		if _, err := cache.Open(filepath.Join(base, strconv.Itoa(i)), testRepoID, cache.Options{Warn: warn}); err != nil {
			return fmt.Errorf("open %d: %w", i, err)
		}
	}
	return nil
}

// clearSetSize is the number of index files the clear helpers cache and
// clear in each round.
const clearSetSize = 40

// helperClear repeats n times: cache the same index files as the other
// helpers, make them and some temporary and lock files stale, and clear
// them all, racing with the other helpers' clears and stores.
func helperClear(base string, rounds int, warn func(error)) error {
	c, err := cache.Open(base, testRepoID, cache.Options{Warn: warn})
	if err != nil {
		return err
	}
	be := newCounting(0)
	var hs []backend.Handle
	for k := range clearSetSize {
		data, name := content(uint64(1000+k), 300)
		h := backend.Handle{Type: backend.IndexFile, Name: name}
		if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
			return err
		}
		hs = append(hs, h)
	}
	cb := c.Wrap(be)
	old := time.Now().Add(-2 * cache.TempMaxAge)
	stale := func(p string) error {
		if err := os.Chtimes(p, old, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	for r := range rounds {
		for _, h := range hs {
			got, err := backend.LoadAll(context.Background(), cb, h)
			if err != nil {
				return fmt.Errorf("round %d: load %v: %w", r, h, err)
			}
			if hashName(got) != h.Name {
				return fmt.Errorf("round %d: load %v: wrong content", r, h)
			}
			if err := stale(entryPath(c, h)); err != nil {
				return err
			}
		}
		// Leftovers of a crashed process: a temporary file and a lock file.
		dir := filepath.Dir(entryPath(c, hs[r%len(hs)]))
		for _, name := range []string{fmt.Sprintf("tmp-helper-%d-%d", os.Getpid(), r), fmt.Sprintf("%x.lock", r)} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := stale(p); err != nil {
				return err
			}
		}
		c.Clear(backend.IndexFile, func(string) bool { return false })
	}
	if c.Disabled() {
		return errors.New("cache disabled")
	}
	return nil
}

// warmPackSize is the size of the packs the warm helpers download.
const warmPackSize = 32 << 10

// helperWarm warms n packs, the same in every helper, through a backend
// that logs every download to log and takes 20 ms for it.
func helperWarm(base string, n int, log string, warn func(error)) error {
	c, err := cache.Open(base, testRepoID, cache.Options{Warn: warn})
	if err != nil {
		return err
	}
	be := newCounting(20 * time.Millisecond)
	var hs []backend.Handle
	var want [][]byte
	for i := range n {
		data, name := content(uint64(5000+i), warmPackSize)
		h := backend.Handle{Type: backend.PackFile, Name: name}
		if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
			return err
		}
		hs, want = append(hs, h), append(want, data)
	}
	be.log = log // count downloads only from here on
	cb := c.Wrap(be)
	for i, h := range hs {
		if err := cb.Warm(context.Background(), h); err != nil {
			return fmt.Errorf("warm %v: %w", h, err)
		}
		got, err := os.ReadFile(entryPath(c, h))
		if err != nil {
			return fmt.Errorf("after warm: %w", err)
		}
		if !bytes.Equal(got, want[i]) {
			return fmt.Errorf("after warm: entry %v has wrong content", h)
		}
	}
	return nil
}

// startHelpers starts n helpers in mode, releases them at once, and waits
// for all; each must exit 0 with nothing on stderr.
func startHelpers(t *testing.T, n int, mode string, env ...string) {
	t.Helper()
	goFile := filepath.Join(t.TempDir(), "go")
	env = append(env, "CACHE_TEST_GO="+goFile)
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range cmds {
		cmds[i] = helperCmd(t, mode, env...)
		outs[i] = &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil || outs[i].Len() > 0 {
			t.Errorf("helper %d (%s): %v\n%s", i, mode, err, outs[i])
		}
	}
}

// TestOpenProcesses: several processes set up the same fresh cache bases
// at the same moment; all succeed and leave a complete setup.
func TestOpenProcesses(t *testing.T) {
	const procs, bases = 6, 30
	root := t.TempDir()
	startHelpers(t, procs, "open", "CACHE_TEST_BASE="+root, "CACHE_TEST_N="+strconv.Itoa(bases))
	for i := range bases {
		checkSetup(t, filepath.Join(root, strconv.Itoa(i)))
	}
}

// TestClearProcesses is restic #4760 and PR #5047 across processes:
// several processes clear the same stale entries (and sweep the same
// stale temporary and lock files) at once, many times, while caching them
// again. Nobody warns, and in the end everything stale is gone.
func TestClearProcesses(t *testing.T) {
	base := t.TempDir()
	c, w := openCache(t, base, cache.Options{})
	startHelpers(t, 3, "clear", "CACHE_TEST_BASE="+base, "CACHE_TEST_N=25")
	if left := files(t, filepath.Join(c.Dir, "index")); len(left) > 0 {
		t.Errorf("after the last clear of every process, %d files are left: %q", len(left), left)
	}
	w.none(t)
}

// TestWarmProcesses: processes warming the same packs at the same moment
// download each pack once; the flock on the entry's lock file makes the
// others wait and then find it cached.
func TestWarmProcesses(t *testing.T) {
	const procs, packs = 4, 12
	base := t.TempDir()
	c, _ := openCache(t, base, cache.Options{})
	log := filepath.Join(t.TempDir(), "downloads")
	startHelpers(t, procs, "warm", "CACHE_TEST_BASE="+base, "CACHE_TEST_N="+strconv.Itoa(packs), "CACHE_TEST_LOG="+log)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	downloads := map[string]int{}
	for _, l := range strings.Fields(string(b)) {
		downloads[l]++
	}
	for i := range packs {
		_, name := content(uint64(5000+i), warmPackSize)
		if downloads[name] != 1 {
			t.Errorf("pack %d (%.8s) downloaded %d times by %d processes, want 1", i, name, downloads[name], procs)
		}
		checkEntry(t, c, backend.Handle{Type: backend.PackFile, Name: name})
	}
	if len(downloads) != packs {
		t.Errorf("downloads of %d files, want %d", len(downloads), packs)
	}
	if j := junk(t, c.Dir); len(j) > 0 {
		t.Errorf("temporary or lock files left: %q", j)
	}
}
