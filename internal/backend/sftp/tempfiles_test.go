package sftp_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// TestTempSweeper checks that stale temporary files of saves are found and
// removed, young ones and repository files are left alone, and other names
// are refused.
func TestTempSweeper(t *testing.T) {
	s := startSSHD(t)
	cfg := nativeConfig(s)
	be := create(t, cfg)
	defer func() { _ = be.Close() }()
	h := backend.Handle{Type: backend.PackFile, Name: hashName([]byte("x"))}
	if err := be.Save(t.Context(), h, backend.NewByteReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	stale := []string{
		filepath.Join("data", h.Name[:2], h.Name+".cairn-tmp-0011223344556677"),
		filepath.Join("index", "ab.cairn-tmp-8899aabbccddeeff"),
	}
	young := filepath.Join("snapshots", "cd.cairn-tmp-0123456789abcdef")
	for _, n := range append(slices.Clone(stale), young) {
		p := filepath.Join(cfg.Path, n)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if n != young {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	pack := filepath.Join(cfg.Path, "data", h.Name[:2], h.Name)
	if err := os.Chtimes(pack, old, old); err != nil {
		t.Fatal(err)
	}
	got, err := be.StaleTempFiles(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(stale)
	if !slices.Equal(got, stale) {
		t.Fatalf("StaleTempFiles = %q, want %q", got, stale)
	}
	if err := be.RemoveTempFiles(t.Context(), append(got, got[0])); err != nil {
		t.Fatal(err)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(cfg.Path, n)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", n, err)
		}
	}
	for _, bad := range []string{"data/" + h.Name[:2] + "/" + h.Name, "../x.cairn-tmp-1", "/tmp/x.cairn-tmp-1"} {
		if err := be.RemoveTempFiles(t.Context(), []string{bad}); err == nil {
			t.Errorf("RemoveTempFiles(%q) succeeded, want refusal", bad)
		}
	}
	for _, p := range []string{pack, filepath.Join(cfg.Path, young)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}

// TestDeadTempFiles: a young temporary file whose writer is a gone
// process of this host is stale at once; DeadTempFiles finds it outside
// data/xx/ only, and leaves those of live, foreign and unnamed writers.
func TestDeadTempFiles(t *testing.T) {
	s := startSSHD(t)
	cfg := nativeConfig(s)
	be := create(t, cfg)
	defer func() { _ = be.Close() }()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host := strings.SplitN(backend.TempWriterTag(), "-", 2)[0]
	foreign := "00000000"
	if host == foreign {
		foreign = "11111111"
	}
	dead := host + "-" + strconv.Itoa(gone.Process.Pid) + "-ff"
	files := map[string][2]bool{ // path: stale (StaleTempFiles), dead (DeadTempFiles)
		"config.cairn-tmp-" + dead:                                                     {true, true},
		"locks/ab.cairn-tmp-" + dead:                                                   {true, true},
		"index/ab.cairn-tmp-" + dead:                                                   {true, true},
		"data/ab/ab.cairn-tmp-" + dead:                                                 {true, false},
		"locks/cd.cairn-tmp-" + backend.TempWriterTag() + "-ff":                        {false, false},
		"locks/ef.cairn-tmp-" + foreign + "-" + strconv.Itoa(gone.Process.Pid) + "-ff": {false, false},
		"keys/ab.cairn-tmp-0123456789abcdef":                                           {false, false},
	}
	var wantStale, wantDead []string
	for n, w := range files {
		p := filepath.Join(cfg.Path, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if w[0] {
			wantStale = append(wantStale, n)
		}
		if w[1] {
			wantDead = append(wantDead, n)
		}
	}
	stale, err := be.StaleTempFiles(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	deadFiles, err := be.DeadTempFiles(t.Context())
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
	if err := be.RemoveTempFiles(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Path, "config.cairn-tmp-"+dead)); !os.IsNotExist(err) {
		t.Errorf("config's temporary file still there: %v", err)
	}
}
