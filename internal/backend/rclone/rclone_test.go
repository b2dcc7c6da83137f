package rclone_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/rclone"
)

func TestParseConfig(t *testing.T) {
	cfg, err := rclone.ParseConfig("rclone:b2prod:bucket/repo")
	if err != nil || cfg.Remote != "b2prod:bucket/repo" || cfg.Program != "rclone" || cfg.Args != rclone.DefaultArgs || cfg.Connections != 5 || cfg.Timeout != time.Minute {
		t.Fatalf("%+v %v", cfg, err)
	}
	for _, bad := range []string{"rclone:", "s3:x", "rclone:a\x00b"} {
		if _, err := rclone.ParseConfig(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, o := range [][2]string{{"program", "/opt/rclone"}, {"args", `serve restic --stdio --log-file "/tmp/a b.log"`}, {"connections", "8"}, {"timeout", "30s"}} {
		if err := cfg.SetOption(o[0], o[1]); err != nil {
			t.Errorf("%s=%s: %v", o[0], o[1], err)
		}
	}
	if cfg.Program != "/opt/rclone" || cfg.Connections != 8 || cfg.Timeout != 30*time.Second {
		t.Errorf("%+v", cfg)
	}
	for _, o := range [][2]string{{"program", ""}, {"args", `"open`}, {"connections", "0"}, {"timeout", "soon"}, {"color", "red"}} {
		if err := cfg.SetOption(o[0], o[1]); err == nil {
			t.Errorf("%s=%s accepted", o[0], o[1])
		}
	}
}

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		"serve restic --stdio":           {"serve", "restic", "--stdio"},
		`  a  "b c" 'd "e"' f\ g `:       {"a", "b c", `d "e"`, "f g"},
		`--x="" ''`:                      {"--x=", ""},
		"--log-file /tmp/x\t--verbose\n": {"--log-file", "/tmp/x", "--verbose"},
	} {
		got, err := rclone.SplitArgs(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"a`, `'b`, `c\`} {
		if _, err := rclone.SplitArgs(bad); err == nil {
			t.Errorf("SplitArgs(%q) accepted", bad)
		}
	}
}

// rcloneBin is Debian's rclone, which make test installs.
func rcloneBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rclone")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rclone not installed (Debian package rclone)")
		}
		t.Skip("rclone not installed (Debian package rclone)")
	}
	return p
}

func newBackend(t *testing.T, dir string, create bool) *rclone.Backend {
	t.Helper()
	cfg, err := rclone.ParseConfig("rclone:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Program = rcloneBin(t)
	ctx := context.Background()
	var be *rclone.Backend
	if create {
		be, err = rclone.Create(ctx, cfg)
	} else {
		be, err = rclone.Open(ctx, cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return newBackend(t, filepath.Join(t.TempDir(), "repo"), true)
	})
}

// TestRestartsDeadRclone kills the rclone child and sees the next
// requests start a new one.
func TestRestartsDeadRclone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	be := newBackend(t, dir, true)
	defer be.Close()
	ctx := t.Context()
	h := backend.Handle{Type: backend.KeyFile, Name: strings.Repeat("ab", 32)}
	data := []byte("key file")
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("pkill", "-KILL", "-f", "serve restic --stdio.* "+dir+"$").Run(); err != nil {
		t.Fatalf("pkill rclone: %v", err)
	}
	var err error
	for range 5 { // the first request may meet the dying child, as a retry would
		if _, err = be.Stat(ctx, h); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after rclone died: %v", err)
	}
}

// TestUnknownRemote fails at once, permanently, quoting rclone.
func TestUnknownRemote(t *testing.T) {
	cfg, _ := rclone.ParseConfig("rclone:no-such-remote-xyz:repo")
	cfg.Program = rcloneBin(t)
	t.Setenv("RCLONE_CONFIG", filepath.Join(t.TempDir(), "none.conf"))
	start := time.Now()
	_, err := rclone.Open(t.Context(), cfg)
	if err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), "no-such-remote-xyz") {
		t.Fatalf("unknown remote: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	cfg.Program = filepath.Join(t.TempDir(), "no-rclone-here")
	if _, err := rclone.Open(t.Context(), cfg); err == nil || !backend.IsPermanent(err) {
		t.Fatalf("missing program: %v", err)
	}
}
