package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// plaintextWindows returns n windows of 32 bytes at random places of data:
// bytes no encrypted file can hold by chance.
func plaintextWindows(data []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		off := mathrand.IntN(len(data) - 32)
		out[i] = data[off : off+32]
	}
	return out
}

// findPlaintext walks the directories and returns the first file holding
// one of the windows ("" if none), and how many files it read.
func findPlaintext(t *testing.T, windows [][]byte, dirs ...string) (string, int) {
	t.Helper()
	read := 0
	for _, dir := range dirs {
		var hit string
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || hit != "" {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			read++
			for _, w := range windows {
				if bytes.Contains(b, w) {
					hit = p
					return filepath.SkipAll
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if hit != "" {
			return hit, read
		}
	}
	return "", read
}

// TestNoPlaintextOutsideTarget: the bytes of backed-up files (random, so
// compression keeps them as they are) appear nowhere but in the restore
// target: not in the repository, the cache, the temporary directory or
// the home directory, neither after a backup killed while writing a pack
// nor after complete ones. A pack being written for a remote repository
// lives in a temporary file unlinked at once, so a killed backup leaves
// nothing in TMPDIR (it left cairn-temp-pack-* files before).
func TestNoPlaintextOutsideTarget(t *testing.T) {
	dir := t.TempDir()
	tmp, home, cache := filepath.Join(dir, "tmp"), filepath.Join(dir, "home"), filepath.Join(dir, "cache")
	for _, d := range []string{tmp, home} {
		must(t, os.MkdirAll(d, 0o700))
	}
	secret := make([]byte, 12<<20)
	_, _ = rand.Read(secret)
	windows := plaintextWindows(secret, 64)
	if w, _ := findPlaintext(t, windows, dir); w != "" {
		t.Fatal("the windows are found before any backup: the test is wrong")
	}
	base := testservers.RestServer(t, "--no-auth")
	for _, loc := range []string{filepath.Join(dir, "repo"), fmt.Sprintf("rest:%s/repo/", base)} {
		env := append(repoEnv(loc, "pw"), "TMPDIR="+tmp, "HOME="+home, "RESTIC_CACHE_DIR="+cache)
		cairn(t, env, "init")

		// Killed while a pack is open: fed a few MiB, then the pipe stays
		// open. The pack file is open in the process (for a remote, as
		// "(deleted)": unlinked).
		pr, pw, err := os.Pipe()
		must(t, err)
		cmd := startCairn(t, env, pr, "backup", "--stdin", "--stdin-filename", "secret.bin")
		_ = pr.Close()
		go func() { _, _ = io.Copy(pw, bytes.NewReader(secret[:6<<20])) }()
		open := killWhen(t, cmd, func() string { return openPackFile(cmd.Process.Pid) })
		_ = pw.Close()
		if open == "" {
			t.Fatalf("%s: the backup ended before a pack file was open", loc)
		}
		if !strings.HasPrefix(loc, "/") && !strings.HasSuffix(open, " (deleted)") {
			t.Errorf("%s: the temporary pack %s has a name while written", loc, open)
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, "cairn-temp-pack-*")); len(left) > 0 {
			t.Errorf("%s: the killed backup left %v", loc, left)
		}
		// A complete backup.
		src := filepath.Join(dir, "src")
		must(t, os.MkdirAll(src, 0o700))
		must(t, os.WriteFile(filepath.Join(src, "secret.bin"), secret, 0o600))
		cairn(t, env, "backup", "-q", src)
		must(t, os.RemoveAll(src))

		target := filepath.Join(dir, "target")
		cairn(t, env, "restore", "latest", "--target", target)
		if hit, _ := findPlaintext(t, windows, target); hit == "" {
			t.Fatalf("%s: the restore target does not hold the plaintext: the test looks for the wrong bytes", loc)
		}
		must(t, os.RemoveAll(target))
		hit, read := findPlaintext(t, windows, dir)
		if hit != "" {
			t.Errorf("%s: plaintext of a backed-up file in %s", loc, hit)
		}
		if read < 10 {
			t.Fatalf("only %d files looked at", read)
		}
	}
}

// openPackFile returns the target of a descriptor of process pid that is
// a pack being written (a local repository's data/pack-tmp-* or a
// remote's cairn-temp-pack-*), "" if none.
func openPackFile(pid int) string {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(fds)
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fds, e.Name()))
		if err == nil && (strings.Contains(target, "cairn-temp-pack-") || strings.Contains(target, "pack-tmp-")) {
			return target
		}
	}
	return ""
}
