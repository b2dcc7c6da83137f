package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stressCommand is one command the stress test starts and kills.
type stressCommand struct {
	name string
	args func(s *stress) []string
	env  func(s *stress) []string // default: the main repository's
}

// stress is the state of one stress run.
type stress struct {
	t       *testing.T
	rng     *rand.Rand
	dir     string
	src     string // the source tree, a directory "src"
	env     []string
	env2    []string // the copy target
	cache   string
	restore string
	known   map[string]string // snapshot ID -> content digest of what it holds
	digest  string            // of src now
}

var stressCommands = []stressCommand{
	{name: "backup", args: func(s *stress) []string { return []string{"backup", "-q", s.src} }},
	{name: "forget --prune", args: func(s *stress) []string {
		return []string{"forget", "--keep-last", "3", "--prune", "--grace", "0s", "--max-unused", "0"}
	}},
	{name: "prune", args: func(s *stress) []string { return []string{"prune", "--grace", "0s", "--max-unused", "0"} }},
	{name: "restore", args: func(s *stress) []string { return []string{"restore", "latest", "--target", s.restore} }},
	{name: "check", args: func(s *stress) []string { return []string{"check", "--read-data"} }},
	{name: "copy", args: func(s *stress) []string {
		return []string{"copy", "--from-repo", repoOf(s.env), "--from-password-file", s.pwFile()}
	}, env: func(s *stress) []string { return s.env2 }},
	{name: "cache cleanup", args: func(s *stress) []string { return []string{"cache", "--cleanup", "--max-age", "1"} }},
}

func repoOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "RESTIC_REPOSITORY="); ok {
			return v
		}
	}
	return ""
}

func (s *stress) pwFile() string {
	p := filepath.Join(s.dir, "pw")
	if _, err := os.Stat(p); err != nil {
		must(s.t, os.WriteFile(p, []byte("stress-pw"), 0o600))
	}
	return p
}

// TestStressKills starts cairn commands on one repository and kills each
// with SIGKILL at a random moment. After every kill the rerun of the
// command succeeds, both checkers accept the repository (every tenth
// time with --read-data), every snapshot ever reported saved and not
// forgotten still restores to what it held, and no temporary files are
// left in the repository once the rerun is done. CAIRN_STRESS_ROUNDS
// (default 5, `make stress` 200) and CAIRN_STRESS_SEED set the size and
// the seed, which the test prints.
func TestStressKills(t *testing.T) {
	rounds := 5
	if v := os.Getenv("CAIRN_STRESS_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("CAIRN_STRESS_ROUNDS=%q", v)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CAIRN_STRESS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CAIRN_STRESS_SEED=%q", v)
		}
		seed = n
	}
	t.Logf("stress: %d rounds, CAIRN_STRESS_SEED=%d", rounds, seed)
	s := &stress{t: t, rng: rand.New(rand.NewPCG(seed, 18)), dir: t.TempDir(), known: map[string]string{}}
	s.src = filepath.Join(s.dir, "src")
	s.cache = filepath.Join(s.dir, "cache")
	s.restore = filepath.Join(s.dir, "restore")
	s.env = append(repoEnv(filepath.Join(s.dir, "repo"), "stress-pw"), "RESTIC_CACHE_DIR="+s.cache)
	s.env2 = append(repoEnv(filepath.Join(s.dir, "repo2"), "stress-pw"), "RESTIC_CACHE_DIR="+s.cache)
	cairn(t, s.env, "init")
	cairn(t, s.env2, "init", "--copy-chunker-params", "--from-repo", repoOf(s.env), "--from-password-file", s.pwFile())
	for i := range 4 {
		writeRandom(t, filepath.Join(s.src, fmt.Sprintf("f%d", i)), 4<<20, seed+uint64(i))
	}
	s.backup()

	kills := map[string]int{}
	for round := range rounds {
		c := stressCommands[s.rng.IntN(len(stressCommands))]
		if c.name == "backup" {
			s.change()
		}
		env := s.env
		if c.env != nil {
			env = c.env(s)
		}
		if c.name == "cache cleanup" {
			s.staleCacheDirs()
		}
		killed := s.killAt(c, env, time.Duration(50+s.rng.IntN(700))*time.Millisecond)
		if killed {
			kills[c.name]++
		}
		if testing.Verbose() {
			t.Logf("round %d: %s (killed: %v)", round, c.name, killed)
		}
		// The rerun must succeed and clean up after the killed run.
		if res := run(t, env, cairnBin, c.args(s)...); res.code != 0 {
			t.Fatalf("round %d (seed %d): rerun of %s after SIGKILL: %v", round, seed, c.name, res)
		}
		if c.name == "backup" {
			s.record()
		}
		s.verify(round, seed, round%10 == 9)
		if c.name == "restore" {
			must(t, os.RemoveAll(s.restore))
		}
	}
	t.Logf("stress: SIGKILLs per command: %v", kills)
}

// killAt runs c and kills it with SIGKILL after d, if it is still
// running then; it reports whether it killed it.
func (s *stress) killAt(c stressCommand, env []string, d time.Duration) bool {
	cmd := exec.Command(cairnBin, c.args(s)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir, "TZ=UTC", "CAIRN_KDF_PARAMS=1024,8,1"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(s.t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		if strings.Contains(out.String(), "panic:") {
			s.t.Fatalf("%s crashed:\n%s", c.name, out.String())
		}
		return false
	case <-time.After(d):
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	return true
}

// change alters the source a little before a backup.
func (s *stress) change() {
	name := fmt.Sprintf("f%d", s.rng.IntN(6))
	writeRandom(s.t, filepath.Join(s.src, name), 1<<20+s.rng.IntN(3<<20), s.rng.Uint64())
}

// backup runs a backup to completion and records what it saved.
func (s *stress) backup() {
	cairn(s.t, s.env, "backup", "-q", s.src)
	s.record()
}

// record maps the snapshots not known yet to the source's content: a
// backup round (the killed run, if it got so far, and the rerun) saw the
// same source.
func (s *stress) record() {
	d := contentDigest(s.t, s.src)
	for _, id := range snapshotIDs(s.t, s.env) {
		if _, ok := s.known[id]; !ok {
			s.known[id] = d
		}
	}
}

// verify checks the repositories with both tools and restores one known
// snapshot. Snapshots missing now were forgotten by a forget round; every
// snapshot is at least as young as the three newest kept.
func (s *stress) verify(round int, seed uint64, readData bool) {
	t := s.t
	args := []string{"check"}
	if readData {
		args = append(args, "--read-data")
	}
	for _, env := range [][]string{s.env, s.env2} {
		if res := run(t, env, cairnBin, args...); res.code != 0 {
			t.Fatalf("round %d (seed %d): cairn %v: %v", round, seed, args, res)
		}
		if res := run(t, env, resticBin(t), args...); res.code != 0 {
			t.Fatalf("round %d (seed %d): restic %v: %v", round, seed, args, res)
		}
	}
	present := map[string]bool{}
	ids := snapshotIDs(t, s.env)
	for _, id := range ids {
		present[id] = true
	}
	if len(ids) == 0 {
		t.Fatalf("round %d (seed %d): no snapshot left", round, seed)
	}
	for id := range s.known {
		if !present[id] {
			delete(s.known, id) // forgotten
		}
	}
	id := ids[s.rng.IntN(len(ids))]
	want, ok := s.known[id]
	if !ok {
		t.Fatalf("round %d (seed %d): snapshot %s appeared from nowhere", round, seed, id[:8])
	}
	got, err := restoredDigest(t, s.env, id)
	if err != nil || got != want {
		t.Fatalf("round %d (seed %d): snapshot %s restores differently: %v", round, seed, id[:8], err)
	}
	// The reruns sweep what killed processes of this host left: those
	// that write every temporary file, every command that locks the
	// temporary lock files.
	for _, env := range [][]string{s.env, s.env2} {
		var temps []string
		_ = filepath.WalkDir(repoOf(env), func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), "-tmp-") {
				temps = append(temps, p)
			}
			return nil
		})
		if len(temps) > 0 {
			t.Fatalf("round %d (seed %d): temporary files left after the rerun: %v", round, seed, temps)
		}
	}
	// So do they in the cache and (restore) in the restore target.
	for dir, isTemp := range map[string]func(string) bool{
		s.cache:   func(n string) bool { return strings.HasPrefix(n, "tmp-") },
		s.restore: func(n string) bool { return strings.HasSuffix(n, ".cairn-restore") },
	} {
		var temps []string
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && isTemp(d.Name()) {
				temps = append(temps, p)
			}
			return nil
		})
		if len(temps) > 0 {
			t.Fatalf("round %d (seed %d): temporary files left after the rerun: %v", round, seed, temps)
		}
	}
}

// staleCacheDirs adds repository cache directories untouched for two
// days, for cache --cleanup to remove.
func (s *stress) staleCacheDirs() {
	for range 3 {
		d := filepath.Join(s.cache, fmt.Sprintf("%064x", s.rng.Uint64()))
		must(s.t, os.MkdirAll(filepath.Join(d, "data"), 0o700))
		must(s.t, os.WriteFile(filepath.Join(d, "version"), []byte("1"), 0o600))
		old := time.Now().Add(-48 * time.Hour)
		must(s.t, os.Chtimes(d, old, old))
	}
}
