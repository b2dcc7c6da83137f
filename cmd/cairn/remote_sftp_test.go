package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestSFTPCommandCtrlC: Ctrl-C at the terminal signals the whole
// foreground process group. cairn exits 130 and leaves no lock behind on
// the server. (The ssh command runs in a process group of its own, as
// restic's does; OpenSSH 9.2 without a terminal survived SIGINT here even
// without that, so this test does not depend on it.)
func TestSFTPCommandCtrlC(t *testing.T) {
	resticBin(t)
	s := testservers.SSHD(t)
	r := sftpRemote(t, s, "")
	r.cairnArgs = r.resticArgs // cairn uses the ssh command too
	src := t.TempDir()
	for i := range 8 {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%d", i)), 16<<20, uint64(i+7))
	}
	r.cairn(t, "init")

	args := append(append([]string{}, r.cairnArgs...), "backup", "--pack-size", "4", src)
	cmd := exec.CommandContext(t.Context(), cairnBin, args...)
	cmd.Env = append(os.Environ(), r.envFor()...)
	cmd.Env = append(cmd.Env, "CAIRN_KDF_PARAMS=1024,8,1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	deadline := time.Now().Add(60 * time.Second)
	for countPacks(t, r.dir) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	must(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 130 {
		t.Fatalf("exit code after Ctrl-C = %d, want 130 (stderr: %s)", code, stderr.String())
	}
	// The lock removal must not have needed a retry or a reconnect.
	if strings.Contains(stderr.String(), "warning:") {
		t.Errorf("Ctrl-C disturbed the ssh command:\n%s", stderr.String())
	}
	if locks := sortedLines(r.restic(t, "list", "locks", "--no-lock")); len(locks) != 0 {
		t.Fatalf("Ctrl-C left %d locks; stderr: %s", len(locks), stderr.String())
	}
	r.restic(t, "check", "--read-data")
}
