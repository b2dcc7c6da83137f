package main

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend/faulty"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// faultSource fills a directory with data enough for several packs.
func faultSource(t *testing.T) string {
	src := t.TempDir()
	for i := range 6 {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%d", i)), 6<<20, uint64(i+1))
	}
	makeSampleTree(t, filepath.Join(src, "sample"))
	return src
}

// during runs fault every interval for the time span, or until stop is
// called.
func during(interval, span time.Duration, fault func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		end := time.After(span)
		for {
			select {
			case <-done:
				return
			case <-end:
				return
			case <-tick.C:
				fault()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// restBehindProxy starts rest-server with args and an HTTP fault proxy in
// front of it, and names one repository twice: through the proxy and
// directly.
func restBehindProxy(t *testing.T, args ...string) (p *faulty.HTTPProxy, viaProxy, direct remote) {
	t.Helper()
	base := testservers.RestServer(t, args...)
	p, err := faulty.NewHTTPProxy(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	viaProxy = restRemote(p.URL())
	direct = viaProxy
	direct.repo = strings.Replace(viaProxy.repo, p.URL(), base, 1)
	return p, viaProxy, direct
}

// backupThroughDrops backs faultSource up through the TCP proxy p while it
// drops every connection each interval for span, then checks the
// repository directly with restic. It returns the source directory.
func backupThroughDrops(t *testing.T, p *faulty.Proxy, viaProxy, direct remote, interval, span time.Duration) string {
	t.Helper()
	src := faultSource(t)
	viaProxy.cairn(t, "init")
	stop := during(interval, span, p.DropAll)
	viaProxy.cairn(t, "backup", "-q", src)
	stop()
	if p.Drops() == 0 {
		t.Fatal("no connection was dropped; the test tested nothing")
	}
	direct.restic(t, "check", "--read-data")
	return src
}

// TestRemoteFaults: a server that drops connections or answers 500 for a
// while does not stop a backup, and the repository is valid afterwards.
func TestRemoteFaults(t *testing.T) {
	t.Run("rest 500", func(t *testing.T) {
		t.Parallel()
		resticBin(t)
		p, viaProxy, direct := restBehindProxy(t, "--no-auth")
		src := faultSource(t)
		viaProxy.cairn(t, "init")
		// Down for 400 ms of every 1.2 s, starting at once.
		p.FailFor(400*time.Millisecond, 500)
		stop := during(1200*time.Millisecond, time.Minute, func() { p.FailFor(400*time.Millisecond, 500) })
		viaProxy.cairn(t, "backup", "-q", src)
		dst := t.TempDir()
		viaProxy.cairn(t, "restore", "latest", "--target", dst)
		stop()
		if _, failed := p.Counts(); failed == 0 {
			t.Fatal("no request was failed; the test tested nothing")
		}
		compareTrees(t, src, filepath.Join(dst, src))
		direct.restic(t, "check", "--read-data")
	})
	t.Run("sftp drops", func(t *testing.T) {
		t.Parallel()
		resticBin(t)
		s := testservers.SSHD(t)
		p, err := faulty.NewProxy(net.JoinHostPort(s.Host, s.Port))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		viaProxy := sftpRemote(t, s, p.Addr())
		direct := sftpRemote(t, s, "")
		direct.repo = strings.Replace(viaProxy.repo, p.Addr(), net.JoinHostPort(s.Host, s.Port), 1)
		src := backupThroughDrops(t, p, viaProxy, direct, 400*time.Millisecond, 3*time.Second)
		dst := t.TempDir()
		direct.cairn(t, "restore", "latest", "--target", dst)
		compareTrees(t, src, filepath.Join(dst, src))
	})
	t.Run("s3 drops", func(t *testing.T) {
		t.Parallel()
		resticBin(t)
		s := testservers.Versitygw(t)
		p, err := faulty.NewProxy(s.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		viaProxy := s3Remote(s, "http://"+p.Addr())
		direct := viaProxy
		direct.repo = strings.Replace(viaProxy.repo, p.Addr(), s.Host, 1)
		backupThroughDrops(t, p, viaProxy, direct, 100*time.Millisecond, 2*time.Second)
	})
}

// TestRemoteWrongCredentials: a wrong credential is one clear line and
// exit code 1, with no retrying.
func TestRemoteWrongCredentials(t *testing.T) {
	t.Run("rest", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		htpasswd := filepath.Join(dir, ".htpasswd")
		sum := sha1.Sum([]byte("secret")) // user "ci", password "secret"
		if err := os.WriteFile(htpasswd, []byte("ci:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		base := testservers.RestServer(t, "--htpasswd-file", htpasswd)
		r := remote{repo: strings.Replace(base, "http://", "rest:http://ci:wrong@", 1) + "/repo/"}
		res := run(t, r.envFor(), cairnBin, "init")
		oneLine(t, res, 1, "wrong credentials", "***")
		if strings.Contains(res.stderr, ":wrong@") {
			t.Errorf("the password shows in the error: %s", res.stderr)
		}
	})
	t.Run("sftp", func(t *testing.T) {
		t.Parallel()
		s := testservers.SSHD(t)
		r := sftpRemote(t, s, "")
		other := filepath.Join(t.TempDir(), "otherkey")
		run(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other)
		r.cairnArgs[1] = "sftp.key=" + other
		res := run(t, r.envFor(), cairnBin, append(r.cairnArgs, "init")...)
		oneLine(t, res, 1, "authenticat")
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		s := testservers.Versitygw(t)
		r := s3Remote(s, s.Endpoint)
		r.env = append(r.env, "AWS_SECRET_ACCESS_KEY=wrong-secret")
		res := run(t, r.envFor(), cairnBin, append(r.cairnArgs, "init")...)
		oneLine(t, res, 1, "credentials")
	})
}

// TestRESTAppendOnlyLostAnswers: uploads whose answers are lost are not
// repeated (the server would refuse the overwrite, and deleting first is
// not allowed); the retry sees that the file arrived whole and goes on.
func TestRESTAppendOnlyLostAnswers(t *testing.T) {
	resticBin(t)
	p, viaProxy, direct := restBehindProxy(t, "--no-auth", "--append-only")
	src := faultSource(t)
	viaProxy.cairn(t, "init")
	p.LoseNext(2, "/data/")
	viaProxy.cairn(t, "backup", "-q", src)
	if _, lost := p.Counts(); lost != 2 {
		t.Fatalf("%d answers lost, want 2", lost)
	}
	direct.restic(t, "check", "--read-data")
	dst := t.TempDir()
	direct.cairn(t, "restore", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src))
}
