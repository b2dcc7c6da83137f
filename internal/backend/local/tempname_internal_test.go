package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestTempNameFormat: new names carry this host and PID and parse back;
// older and foreign formats do not parse.
func TestTempNameFormat(t *testing.T) {
	name := tempName("0123abcd")
	host, pid, ok := tempWriter(name)
	if !ok || host != hostTag() || pid != os.Getpid() {
		t.Fatalf("tempWriter(%q) = %q, %d, %v, want %q, %d, true", name, host, pid, ok, hostTag(), os.Getpid())
	}
	want := "0123abcd-tmp-" + hostTag() + "-" + strconv.Itoa(os.Getpid()) + "-"
	if len(name) != len(want)+16 || name[:len(want)] != want {
		t.Errorf("tempName = %q, want %q and 16 hex digits", name, want)
	}
	for _, tc := range []struct {
		name string
		ok   bool
		pid  int
	}{
		{"pack-tmp-0a1b2c3d-42-123456", true, 42},
		{"abcd-tmp-0a1b2c3d-7-ff00", true, 7},
		{"abcd-tmp-0123456789abcdef", false, 0}, // before host and PID: Save
		{"pack-tmp-1234567890", false, 0},       // before host and PID: TempFile
		{"abcd-tmp-0a1b2c3d-0-ff", false, 0},    // no PID 0
		{"abcd-tmp-0a1b2c3d--1-ff", false, 0},   // nor negative
		{"abcd-tmp-0a1b2c3d-+5-ff", false, 0},   // nor signed
		{"abcd-tmp-0a1b2c3x-5-ff", false, 0},    // host not hex
		{"abcd-tmp-0a1b2c3d-5-", false, 0},      // no random part
		{"abcd-tmp-0a1b2c3d-5-ff-gg", false, 0}, // extra part
		{"abcdef0123", false, 0},                // not temporary
	} {
		_, pid, ok := tempWriter(tc.name)
		if ok != tc.ok || pid != tc.pid {
			t.Errorf("tempWriter(%q) = %d, %v, want %d, %v", tc.name, pid, ok, tc.pid, tc.ok)
		}
	}
}

// deadPID returns the PID of a process that was started and waited for.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestWriterGone: a name of this host with the PID of a process started
// and waited for is gone; this process, another host and old names are
// not known gone.
func TestWriterGone(t *testing.T) {
	dead := strconv.Itoa(deadPID(t))
	me := strconv.Itoa(os.Getpid())
	other := "00000000"
	if hostTag() == other {
		other = "11111111"
	}
	for name, want := range map[string]bool{
		"pack-tmp-" + hostTag() + "-" + dead + "-1":  true,
		"abcd-tmp-" + hostTag() + "-" + dead + "-ff": true,
		"pack-tmp-" + hostTag() + "-" + me + "-1":    false,
		"pack-tmp-" + hostTag() + "-1-1":             false, // init: alive
		"pack-tmp-" + other + "-" + dead + "-1":      false,
		"pack-tmp-123456":                            false,
	} {
		if got := writerGone(name); got != want {
			t.Errorf("writerGone(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestDeadTempFiles: a young temporary file of a gone writer is stale at
// once; DeadTempFiles finds it outside data/xx/ only and leaves live,
// foreign and old-format ones.
func TestDeadTempFiles(t *testing.T) {
	dir := t.TempDir()
	b, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	dead := hostTag() + "-" + strconv.Itoa(deadPID(t))
	live := writerTag()
	files := map[string][2]bool{ // path: stale (StaleTempFiles), dead (DeadTempFiles)
		"data/pack-tmp-" + dead + "-99":     {true, true},
		"locks/ab12-tmp-" + dead + "-ff":    {true, true},
		"keys/ab12-tmp-" + dead + "-ff":     {true, true},
		"config-tmp-" + dead + "-ff":        {true, true},
		"index/ab12-tmp-" + dead + "-ff":    {true, true},
		"snapshots/ab12-tmp-" + dead + "-f": {true, true},
		"data/ab/ab12-tmp-" + dead + "-ff":  {true, false}, // not looked at by the cheap sweep
		"data/pack-tmp-" + live + "-1":      {false, false},
		"locks/ab12-tmp-" + live + "-ff":    {false, false},
		"locks/ab12-tmp-00000000-1-ff":      {false, false},
		"locks/ab12-tmp-0123456789abcdef":   {false, false},
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var wantStale, wantDead []string
	for name, w := range files {
		if w[0] {
			wantStale = append(wantStale, filepath.FromSlash(name))
		}
		if w[1] {
			wantDead = append(wantDead, filepath.FromSlash(name))
		}
	}
	stale, err := b.StaleTempFiles(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	deadFiles, err := b.DeadTempFiles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range [][]string{stale, deadFiles, wantStale, wantDead} {
		slices.Sort(l)
	}
	if !slices.Equal(stale, wantStale) {
		t.Errorf("StaleTempFiles = %q, want %q", stale, wantStale)
	}
	if !slices.Equal(deadFiles, wantDead) {
		t.Errorf("DeadTempFiles = %q, want %q", deadFiles, wantDead)
	}
	if err := b.RemoveTempFiles(t.Context(), stale); err != nil {
		t.Fatalf("RemoveTempFiles = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config-tmp-"+dead+"-ff")); !os.IsNotExist(err) {
		t.Errorf("config temp file still there: %v", err)
	}
}
