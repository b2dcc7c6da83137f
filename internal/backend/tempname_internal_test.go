package backend

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

const tmpMarker = "-tmp-"

func tempName(base string) string { return TempName(base, tmpMarker) }

func tempWriter(name string) (string, int, bool) { return TempWriter(name, tmpMarker) }

func writerGone(name string) bool { return TempWriterGone(name, tmpMarker) }

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

// TestTempNameMarkers: the parse finds the writer after any marker, the
// last one when the base holds it too.
func TestTempNameMarkers(t *testing.T) {
	for _, marker := range []string{"-tmp-", ".cairn-tmp-"} {
		name := TempName("ab-tmp-cd"+marker+"x", marker)
		if _, pid, ok := TempWriter(name, marker); !ok || pid != os.Getpid() {
			t.Errorf("TempWriter(%q, %q) = %d, %v", name, marker, pid, ok)
		}
		if TempWriterGone(name, marker) {
			t.Errorf("TempWriterGone(%q): this process is alive", name)
		}
	}
}
