package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend/faulty"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// remote is a repository on a real server, with what each tool needs to
// reach it.
type remote struct {
	repo       string   // location, the same for both tools
	cairnArgs  []string // global flags for cairn (-o ...)
	resticArgs []string // global flags for restic (-o ...)
	env        []string // environment for both (credentials)
	dir        string   // the repository's directory on this machine, if known
}

// cairn runs cairn on the remote repository with password pw.
func (r remote) cairn(t *testing.T, args ...string) string {
	t.Helper()
	return cairn(t, r.envFor(), append(append([]string{}, r.cairnArgs...), args...)...)
}

// restic runs restic on the remote repository.
func (r remote) restic(t *testing.T, args ...string) string {
	t.Helper()
	return restic(t, r.envFor(), append(append([]string{}, r.resticArgs...), args...)...)
}

func (r remote) envFor() []string {
	return append(append(repoEnv(r.repo, "remote-pw"), r.env...), "CAIRN_PASSWORD=remote-pw")
}

// sftpRemote starts sshd and names a repository on it. cairn connects with
// its own SSH client; restic through OpenSSH's ssh command. With via set,
// cairn connects to that address instead (a proxy in front of sshd).
func sftpRemote(t *testing.T, s *testservers.SFTP, via string) remote {
	addr := net.JoinHostPort(s.Host, s.Port)
	if via != "" {
		addr = via
	}
	dir := filepath.Join(s.Dir, fmt.Sprintf("repo-%d", time.Now().UnixNano()))
	return remote{
		repo:       fmt.Sprintf("sftp://%s@%s/%s", s.User, addr, dir),
		cairnArgs:  []string{"-o", "sftp.key=" + s.KeyFile, "-o", "sftp.known-hosts=" + s.KnownHosts, "-o", "sftp.strict-host-key-checking=no"},
		resticArgs: []string{"-o", "sftp.command=" + s.SSHCommand()},
		dir:        dir,
	}
}

// restRemote names a repository on a rest-server at base.
func restRemote(base string) remote {
	return remote{repo: fmt.Sprintf("rest:%s/repo-%d/", base, time.Now().UnixNano())}
}

// s3Remote names a bucket on the S3 server at endpoint (versitygw's, or a
// proxy in front of it).
func s3Remote(s *testservers.S3, endpoint string) remote {
	return remote{
		repo:       fmt.Sprintf("s3:%s/bucket-%d/cairn", endpoint, time.Now().UnixNano()),
		cairnArgs:  []string{"-o", "s3.bucket-lookup=path"},
		resticArgs: []string{"-o", "s3.bucket-lookup=path"},
		env: []string{
			"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
			// Set on purpose: cairn must not depend on it being unset.
			"AWS_CA_BUNDLE=/nonexistent/ca.pem",
		},
	}
}

// TestRemoteEndToEnd runs the main job on every remote backend and checks
// the result with restic, then lets restic write and cairn check.
func TestRemoteEndToEnd(t *testing.T) {
	remotes := map[string]func(t *testing.T) remote{
		"sftp": func(t *testing.T) remote { return sftpRemote(t, testservers.SSHD(t), "") },
		"rest": func(t *testing.T) remote { return restRemote(testservers.RestServer(t, "--no-auth")) },
		"s3": func(t *testing.T) remote {
			s := testservers.Versitygw(t)
			return s3Remote(s, s.Endpoint)
		},
	}
	for name, mk := range remotes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resticBin(t)
			r := mk(t)
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
			r.restic(t, "check", "--read-data")

			// The other way round: restic writes, cairn reads and checks.
			writeFile(t, src, "new/by-restic", "third backup")
			r.restic(t, "backup", "-q", src)
			r.cairn(t, "check", "--read-data")
			dst2 := t.TempDir()
			r.cairn(t, "restore", "latest", "--target", dst2)
			compareTrees(t, src, filepath.Join(dst2, src))
		})
	}
}

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

// TestRemoteFaults: a server that drops connections or answers 500 for a
// while does not stop a backup, and the repository is valid afterwards.
func TestRemoteFaults(t *testing.T) {
	t.Run("rest 500", func(t *testing.T) {
		t.Parallel()
		resticBin(t)
		base := testservers.RestServer(t, "--no-auth")
		p, err := faulty.NewHTTPProxy(base)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		viaProxy := restRemote(p.URL())
		direct := viaProxy
		direct.repo = strings.Replace(viaProxy.repo, p.URL(), base, 1)
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
		src := faultSource(t)
		viaProxy.cairn(t, "init")
		stop := during(400*time.Millisecond, 3*time.Second, p.DropAll)
		viaProxy.cairn(t, "backup", "-q", src)
		stop()
		if p.Drops() == 0 {
			t.Fatal("no connection was dropped; the test tested nothing")
		}
		direct.restic(t, "check", "--read-data")
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
		src := faultSource(t)
		viaProxy.cairn(t, "init")
		stop := during(100*time.Millisecond, 2*time.Second, p.DropAll)
		viaProxy.cairn(t, "backup", "-q", src)
		stop()
		if p.Drops() == 0 {
			t.Fatal("no connection was dropped; the test tested nothing")
		}
		direct.restic(t, "check", "--read-data")
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

// TestSFTPCommandCtrlC: Ctrl-C at the terminal signals the whole
// foreground process group. cairn exits 130 and leaves no lock behind on
// the server. (The ssh command runs in a process group of its own, as
// restic's does; OpenSSH 9.2 without a terminal survived SIGINT here even
// without that, so this test does not depend on it.)
func TestSFTPCommandCtrlC(t *testing.T) {
	resticBin(t)
	s := testservers.SSHD(t)
	r := sftpRemote(t, s, "")
	r.cairnArgs = r.resticArgs // cairn uses the ssh command too
	src := t.TempDir()
	for i := range 8 {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%d", i)), 16<<20, uint64(i+7))
	}
	r.cairn(t, "init")

	args := append(append([]string{}, r.cairnArgs...), "backup", "--pack-size", "4", src)
	cmd := exec.CommandContext(t.Context(), cairnBin, args...)
	cmd.Env = append(os.Environ(), r.envFor()...)
	cmd.Env = append(cmd.Env, "CAIRN_KDF_PARAMS=1024,8,1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	deadline := time.Now().Add(60 * time.Second)
	for countPacks(t, r.dir) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	must(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 130 {
		t.Fatalf("exit code after Ctrl-C = %d, want 130 (stderr: %s)", code, stderr.String())
	}
	// The lock removal must not have needed a retry or a reconnect.
	if strings.Contains(stderr.String(), "warning:") {
		t.Errorf("Ctrl-C disturbed the ssh command:\n%s", stderr.String())
	}
	if locks := sortedLines(r.restic(t, "list", "locks", "--no-lock")); len(locks) != 0 {
		t.Fatalf("Ctrl-C left %d locks; stderr: %s", len(locks), stderr.String())
	}
	r.restic(t, "check", "--read-data")
}

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

// TestRESTAppendOnlyLostAnswers: uploads whose answers are lost are not
// repeated (the server would refuse the overwrite, and deleting first is
// not allowed); the retry sees that the file arrived whole and goes on.
func TestRESTAppendOnlyLostAnswers(t *testing.T) {
	resticBin(t)
	base := testservers.RestServer(t, "--no-auth", "--append-only")
	p, err := faulty.NewHTTPProxy(base)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	viaProxy := restRemote(p.URL())
	direct := viaProxy
	direct.repo = strings.Replace(viaProxy.repo, p.URL(), base, 1)
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

// TestRemoteConcurrentWriters: several cairn processes and a restic process
// back up into one remote repository at the same time, with one shared
// cache; all succeed and the repository checks clean.
func TestRemoteConcurrentWriters(t *testing.T) {
	remotes := map[string]func(t *testing.T) remote{
		"sftp": func(t *testing.T) remote { return sftpRemote(t, testservers.SSHD(t), "") },
		"s3": func(t *testing.T) remote {
			s := testservers.Versitygw(t)
			return s3Remote(s, s.Endpoint)
		},
	}
	for name, mk := range remotes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resticBin(t)
			r := mk(t)
			cache := filepath.Join(t.TempDir(), "cache")
			r.env = append(r.env, "CAIRN_CACHE_DIR="+cache, "RESTIC_CACHE_DIR="+cache)
			r.cairn(t, "init")
			const writers = 4
			srcs := make([]string, writers+1)
			for i := range srcs {
				srcs[i] = t.TempDir()
				writeRandom(t, filepath.Join(srcs[i], "own"), 3<<20, uint64(100+i))
				writeRandom(t, filepath.Join(srcs[i], "shared"), 3<<20, 99) // deduplicated across writers
			}
			results := make(chan result, writers+1)
			for i := range writers {
				go func() {
					args := append(append([]string{}, r.cairnArgs...), "backup", "-q", "--host", fmt.Sprintf("h%d", i), srcs[i])
					results <- runQuiet(t, r.envFor(), cairnBin, args...)
				}()
			}
			restic := resticBin(t)
			go func() {
				args := append(append([]string{}, r.resticArgs...), "backup", "-q", "--host", "restic", srcs[writers])
				results <- runQuiet(t, r.envFor(), restic, args...)
			}()
			for range writers + 1 {
				if res := <-results; res.code != 0 || res.stderr != "" {
					t.Errorf("a concurrent backup failed or warned:\n%v", res)
				}
			}
			if n := len(sortedLines(r.cairn(t, "list", "snapshots"))); n != writers+1 {
				t.Errorf("%d snapshots, want %d", n, writers+1)
			}
			r.restic(t, "check", "--read-data")
		})
	}
}

// TestRemoteMissingRepository: a remote location without a repository is
// exit code 10 and one line, on every backend, without retrying.
func TestRemoteMissingRepository(t *testing.T) {
	remotes := map[string]func(t *testing.T) remote{
		"sftp": func(t *testing.T) remote { return sftpRemote(t, testservers.SSHD(t), "") },
		"rest": func(t *testing.T) remote { return restRemote(testservers.RestServer(t, "--no-auth")) },
		"s3": func(t *testing.T) remote {
			s := testservers.Versitygw(t)
			return s3Remote(s, s.Endpoint)
		},
	}
	for name, mk := range remotes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mk(t)
			res := run(t, r.envFor(), cairnBin, append(r.cairnArgs, "snapshots")...)
			oneLine(t, res, 10, "does not exist")
		})
	}
}
