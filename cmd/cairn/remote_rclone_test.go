package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// rcloneRemote names a repository that both tools reach through rclone
// serving a local directory (both start `rclone serve restic --stdio`).
func rcloneRemote(t *testing.T) remote {
	testservers.Rclone(t)
	dir := filepath.Join(t.TempDir(), "repo")
	// An empty configuration, so that rclone does not say it has none.
	conf := writeFile(t, t.TempDir(), "rclone.conf", "")
	return remote{repo: "rclone:" + dir, dir: dir, env: []string{"RCLONE_CONFIG=" + conf}}
}

// TestRcloneKilledMidBackup kills cairn's rclone child again and again
// during a backup: each death is retried with a new child, the backup
// completes, and restic checks and cairn restores the result.
func TestRcloneKilledMidBackup(t *testing.T) {
	r := rcloneRemote(t)
	r.cairn(t, "init")
	src := faultSource(t)
	var kills atomic.Int32
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			if exec.Command("pkill", "-KILL", "-f", "serve restic --stdio --b2-hard-delete "+r.dir+"$").Run() == nil {
				kills.Add(1)
			}
		}
	}()
	res := run(t, r.envFor(), cairnBin, "backup", "-q", "-o", "rclone.connections=2", src)
	close(stop)
	<-done
	if res.code != 0 {
		t.Fatalf("backup with rclone killed %d times: %v", kills.Load(), res)
	}
	if kills.Load() == 0 {
		t.Fatal("rclone was never killed: the test did not test anything")
	}
	t.Logf("rclone killed %d times during the backup", kills.Load())
	r.restic(t, "check", "--read-data")
	restic(t, repoEnv(r.dir, "remote-pw"), "check") // the same files, read directly
	dst := t.TempDir()
	r.cairn(t, "restore", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src))
}

// TestRcloneBadRemote: an unknown remote and wrong credentials of a
// configured one are one line each, not retried, with restic's exit codes.
func TestRcloneBadRemote(t *testing.T) {
	testservers.Rclone(t)
	conf := "RCLONE_CONFIG=" + writeFile(t, t.TempDir(), "rclone.conf", "")
	start := time.Now()
	res := run(t, append(repoEnv("rclone:no-such-remote:repo", "pw"), conf), cairnBin, "snapshots")
	oneLine(t, res, 1, "no-such-remote")
	if !strings.Contains(res.stderr, "rclone exited") {
		t.Errorf("no rclone message: %v", res)
	}

	// An S3 remote of rclone's with a wrong secret: rclone answers "not
	// found" for what it cannot read, so both tools say the repository
	// does not exist (exit 10), as restic 0.19.1 does.
	s := testservers.Versitygw(t)
	env := func(secret string) []string {
		return []string{conf, "RCLONE_CONFIG_VGW_TYPE=s3", "RCLONE_CONFIG_VGW_PROVIDER=Other",
			"RCLONE_CONFIG_VGW_ENDPOINT=" + s.Endpoint, "RCLONE_CONFIG_VGW_ACCESS_KEY_ID=" + s.AccessKey,
			"RCLONE_CONFIG_VGW_SECRET_ACCESS_KEY=" + secret}
	}
	good := append(repoEnv("rclone:vgw:bucket-rclone/repo", "pw"), env(s.SecretKey)...)
	cairn(t, good, "init")
	res = run(t, append(repoEnv("rclone:vgw:bucket-rclone/repo", "pw"), env("wrong-secret")...), cairnBin, "snapshots")
	oneLine(t, res, 10, "does not exist")
	if time.Since(start) > 30*time.Second {
		t.Errorf("bad remotes took %v: retried?", time.Since(start))
	}
}
