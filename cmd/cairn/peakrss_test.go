package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// peakRSSEnv, set in the environment of this test binary, turns it into a
// wrapper: it runs its arguments as a command and writes the command's peak
// resident set (KiB) to the file the variable names. See measurePeakRSS.
const peakRSSEnv = "CAIRN_TEST_PEAK_RSS_FILE"

// measurePeakRSS makes cmd (not yet started) run under a fresh copy of the
// test binary, and returns a function that gives cmd's peak resident set in
// KiB once it has run.
//
// The kernel's ru_maxrss of a child that was started with vfork, as Go starts
// every child, begins at the high-water mark of its parent's memory: under
// -race, late in a long run, that is gigabytes, whatever the child used. A
// fresh wrapper process is small, so what it reports for its own child is
// the child's own figure, or the wrapper's start-up size if that is larger
// (about 60 MiB for a -race test binary, 10 without: below every bound the
// tests set).
func measurePeakRSS(t testing.TB, cmd *exec.Cmd) func() int64 {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "peak-rss")
	cmd.Args = append([]string{self, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = self
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, peakRSSEnv+"="+report)
	return func() int64 {
		t.Helper()
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("peak RSS of %v: %v", cmd.Args[1:], err)
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatalf("peak RSS of %v: %v", cmd.Args[1:], err)
		}
		return kib
	}
}

// runForPeakRSS is the wrapper's side of measurePeakRSS: it runs args with
// this process's standard streams, writes the child's peak RSS to report and
// returns the exit code to leave with (the child's).
func runForPeakRSS(report string, args []string) int {
	if len(args) == 0 {
		os.Stderr.WriteString("peak RSS wrapper: no command\n")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, peakRSSEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		os.Stderr.WriteString("peak RSS wrapper: " + err.Error() + "\n")
		return 2
	}
	kib := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	if err := os.WriteFile(report, []byte(strconv.FormatInt(kib, 10)+"\n"), 0o600); err != nil {
		os.Stderr.WriteString("peak RSS wrapper: " + err.Error() + "\n")
		return 2
	}
	if code := cmd.ProcessState.ExitCode(); code >= 0 {
		return code
	}
	return 128 + int(cmd.ProcessState.Sys().(syscall.WaitStatus).Signal())
}

// TestPeakRSSOfChild proves measurePeakRSS reports the child's memory, not
// the test process's: with 256 MiB touched here, a small child must still
// measure well below it, which ru_maxrss of a direct child does not.
func TestPeakRSSOfChild(t *testing.T) {
	ballast := make([]byte, 256<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	cmd := exec.Command("true")
	peak := measurePeakRSS(t, cmd)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if kib := peak(); kib <= 0 || kib > 128<<10 {
		t.Errorf("peak RSS of true: %d KiB, want above 0 and at most 128 MiB", kib)
	}
	direct := exec.Command("true")
	if err := direct.Run(); err != nil {
		t.Fatal(err)
	}
	t.Logf("ru_maxrss of a direct child: %d KiB; through the wrapper: %d KiB", direct.ProcessState.SysUsage().(*syscall.Rusage).Maxrss, peak())
	if ballast[len(ballast)-1] != 1 {
		t.Fatal("ballast lost")
	}
}
