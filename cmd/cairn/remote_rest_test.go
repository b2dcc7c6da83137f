package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestRESTWithPrivateCA: an HTTPS server whose certificate a private CA
// signed is refused at once with one clear line, and works with --cacert
// or $CAIRN_CACERT.
func TestRESTWithPrivateCA(t *testing.T) {
	resticBin(t)
	f := testservers.TLS(t)
	base := testservers.RestServerTLS(t, f, "--no-auth")
	r := restRemote(base)

	res := run(t, r.envFor(), cairnBin, "init")
	oneLine(t, res, 1, "certificate")

	r.cairnArgs = []string{"--cacert", f.CA}
	r.resticArgs = []string{"--cacert", f.CA}
	r.cairn(t, "init")
	src := t.TempDir()
	makeSampleTree(t, src)
	r.cairn(t, "backup", "-q", src)
	r.restic(t, "check", "--read-data")

	r.cairnArgs = nil
	r.env = []string{"CAIRN_CACERT=" + f.CA}
	r.cairn(t, "check")
}

// TestRESTAppendOnly: backups work on an append-only rest-server; a
// forget, which must delete, fails at once with one clear line instead of
// retrying.
func TestRESTAppendOnly(t *testing.T) {
	resticBin(t)
	r := restRemote(testservers.RestServer(t, "--no-auth", "--append-only"))
	src := t.TempDir()
	makeSampleTree(t, src)
	r.cairn(t, "init")
	r.cairn(t, "backup", "-q", src)
	writeFile(t, src, "more", "more")
	r.cairn(t, "backup", "-q", src)
	res := run(t, r.envFor(), cairnBin, "forget", "--keep-last", "1")
	if res.code != 1 || !strings.Contains(res.stderr, "append-only") || strings.Contains(res.stderr, "retrying") {
		t.Fatalf("forget on an append-only server: want exit 1 naming append-only, without retries; got %v", res)
	}
	r.restic(t, "check", "--read-data")
	if n := len(sortedLines(r.restic(t, "list", "locks", "--no-lock"))); n != 0 {
		t.Errorf("%d locks left behind", n)
	}
}

// TestBandwidthLimits: --limit-upload and --limit-download (KiB/s) hold a
// backup and a restore of 3 MiB of random data at 2 MiB/s to at least
// about the time that takes.
func TestBandwidthLimits(t *testing.T) {
	r := restRemote(testservers.RestServer(t, "--no-auth"))
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "data"), 3<<20, 77)
	r.cairn(t, "init")
	start := time.Now()
	r.cairn(t, "--limit-upload", "2048", "backup", "-q", src)
	if d := time.Since(start); d < 1200*time.Millisecond {
		t.Errorf("backup of 3 MiB at 2 MiB/s took %v, want at least 1.2s", d)
	}
	start = time.Now()
	r.cairn(t, "--limit-download", "2048", "--no-cache", "restore", "latest", "--target", t.TempDir())
	if d := time.Since(start); d < 1200*time.Millisecond {
		t.Errorf("restore of 3 MiB at 2 MiB/s took %v, want at least 1.2s", d)
	}
	res := run(t, r.envFor(), cairnBin, "--limit-upload", "-1", "snapshots")
	oneLine(t, res, 1, "limit")
}
