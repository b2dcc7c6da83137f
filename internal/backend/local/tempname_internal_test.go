package local

import (
	"strings"

	"github.com/cairn-backup/cairn/internal/backend"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// deadPID returns the PID of a process that was started and waited for.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
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
	dead := strings.SplitN(backend.TempWriterTag(), "-", 2)[0] + "-" + strconv.Itoa(deadPID(t))
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
