package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// gsRemote names a repository in a fresh bucket on fake-gcs-server g,
// which cairn reaches through STORAGE_EMULATOR_HOST, with no credentials.
// dir is where the server keeps the repository's objects: one file per
// object, named like the object.
func gsRemote(g *testservers.GCS) remote {
	bucket := fmt.Sprintf("bucket-%d", time.Now().UnixNano())
	return remote{
		repo: "gs:" + bucket + ":/cairn",
		env:  []string{"STORAGE_EMULATOR_HOST=" + g.Host, "GOOGLE_PROJECT_ID=cairn-test"},
		dir:  filepath.Join(g.Dir, bucket, "cairn"),
	}
}

// TestRemoteGSEndToEnd runs the main job on a gs: repository, then lets
// restic read and write it:
//
//   - restic 0.19.1 (cloud.google.com/go/storage, which honours
//     STORAGE_EMULATOR_HOST) over the same emulator, when it is on this
//     machine; it needs some credential even then, and fake-gcs-server
//     checks none, so it gets a made-up GOOGLE_ACCESS_TOKEN;
//   - restic 0.14 (google.golang.org/api/storage/v1 with no endpoint
//     setting: it always dials https://storage.googleapis.com) cannot
//     reach an emulator, so it checks the objects the server wrote to its
//     disk, which keep the repository layout, as a local repository.
func TestRemoteGSEndToEnd(t *testing.T) {
	t.Parallel()
	g := testservers.FakeGCS(t)
	r := gsRemote(g)
	src := t.TempDir()
	makeSampleTree(t, src)
	r.cairn(t, "init")
	r.cairn(t, "backup", "-q", src)
	writeFile(t, src, "new/file", "second backup")
	r.cairn(t, "backup", "-q", src)

	dst := t.TempDir()
	r.cairn(t, "restore", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src))

	r.cairn(t, "forget", "--keep-last", "1", "--prune")
	if got := sortedLines(r.cairn(t, "list", "snapshots")); len(got) != 1 {
		t.Fatalf("after forget --keep-last 1: %d snapshots, want 1", len(got))
	}
	r.cairn(t, "check", "--read-data")

	local := remote{repo: r.dir}
	local.restic(t, "check", "--read-data")

	bin := restic019(t)
	if bin == "" {
		return // restic's own gs client is not tried
	}
	rr := r
	rr.env = append(append([]string{}, r.env...), "GOOGLE_ACCESS_TOKEN=unchecked")
	resticGS := func(args ...string) {
		t.Helper()
		if res := run(t, rr.envFor(), bin, args...); res.code != 0 {
			t.Fatalf("restic 0.19.1 %v: %v", args, res)
		}
	}
	resticGS("check", "--read-data")
	writeFile(t, src, "new/by-restic", "third backup")
	resticGS("backup", "-q", src)
	r.cairn(t, "check", "--read-data")
	dst2 := t.TempDir()
	r.cairn(t, "restore", "latest", "--target", dst2)
	compareTrees(t, src, filepath.Join(dst2, src))
}

// TestRemoteGSWrongCredentials: a refused token is one clear line and
// exit code 1, after a single request (init does not go on to make the
// bucket: 401 is not 403). fake-gcs-server checks no
// credentials, so a small server that does stands in for Google: it
// answers 401 to every request, as Google answers a bogus token.
func TestRemoteGSWrongCredentials(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	var sawToken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		sawToken.CompareAndSwap(false, r.Header.Get("Authorization") == "Bearer bogus-token")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprint(w, `{"error":{"code":401,"message":"Invalid Credentials","errors":[{"reason":"authError"}]}}`)
	}))
	defer srv.Close()
	env := append(repoEnv("gs:bucket:/repo", "pw"), "STORAGE_EMULATOR_HOST="+srv.URL, "GOOGLE_ACCESS_TOKEN=bogus-token")
	for _, cmd := range []string{"init", "snapshots"} {
		requests.Store(0)
		start := time.Now()
		res := run(t, env, cairnBin, cmd)
		oneLine(t, res, 1, "wrong credentials", "401")
		if n := requests.Load(); n != 1 {
			t.Errorf("cairn %s: %d requests, want 1 (no retrying)", cmd, n)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("cairn %s took %v, want it to give up at once", cmd, d)
		}
	}
	if !sawToken.Load() {
		t.Error("the server never saw GOOGLE_ACCESS_TOKEN as a bearer token")
	}
}

// TestRemoteGSServerRestart: the server goes away in the middle of a
// backup and comes back on the same port with the same data; the backup
// retries and completes, and the repository is whole.
func TestRemoteGSServerRestart(t *testing.T) {
	t.Parallel()
	g := testservers.FakeGCS(t)
	r := gsRemote(g)
	src := faultSource(t)
	r.cairn(t, "init")

	cmd := exec.CommandContext(t.Context(), cairnBin, "backup", "-q", src)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + os.TempDir(), "TZ=UTC",
		"CAIRN_KDF_PARAMS=1024,8,1",
	}, r.envFor()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Stop the server once the first pack has arrived, while the backup
	// still has packs to send.
	deadline := time.Now().Add(30 * time.Second)
	for !hasPack(r.dir) {
		if time.Now().After(deadline) {
			t.Fatalf("no pack arrived within 30s\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	g.Stop()
	select {
	case err := <-done:
		t.Fatalf("the backup ended (%v) before the server was down for long; the test tested nothing\n%s", err, stderr.String())
	case <-time.After(1500 * time.Millisecond):
	}
	g.Start()
	if err := <-done; err != nil {
		t.Fatalf("backup across a server restart: %v\nstdout:\n%s\nstderr:\n%s\nserver:\n%s", err, stdout.String(), stderr.String(), g.Output())
	}
	if !strings.Contains(stderr.String(), "retrying") {
		t.Errorf("the backup reported no retry; did the server really go away?\n%s", stderr.String())
	}
	r.cairn(t, "check", "--read-data")
	dst := t.TempDir()
	r.cairn(t, "restore", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src))
}

// hasPack reports whether the repository on the server's disk holds a
// pack file.
func hasPack(repo string) bool {
	m, _ := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	return len(m) > 0
}
