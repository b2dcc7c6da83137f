package main

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

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

// allRemotes returns, per backend, a function that starts a fresh server
// and names a repository on it.
func allRemotes() map[string]func(t *testing.T) remote {
	return map[string]func(t *testing.T) remote{
		"sftp": func(t *testing.T) remote { return sftpRemote(t, testservers.SSHD(t), "") },
		"rest": func(t *testing.T) remote { return restRemote(testservers.RestServer(t, "--no-auth")) },
		"s3": func(t *testing.T) remote {
			s := testservers.Versitygw(t)
			return s3Remote(s, s.Endpoint)
		},
		"rclone": func(t *testing.T) remote { return rcloneRemote(t) },
	}
}

// TestRemoteEndToEnd runs the main job on every remote backend and checks
// the result with restic, then lets restic write and cairn check.
func TestRemoteEndToEnd(t *testing.T) {
	for name, mk := range allRemotes() {
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

// TestRemoteConcurrentWriters: several cairn processes and a restic process
// back up into one remote repository at the same time, with one shared
// cache; all succeed and the repository checks clean.
func TestRemoteConcurrentWriters(t *testing.T) {
	for name, mk := range allRemotes() {
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
			type outcome struct {
				tool string
				res  result
			}
			results := make(chan outcome, writers+1)
			for i := range writers {
				go func() {
					args := append(append([]string{}, r.cairnArgs...), "backup", "-q", "--host", fmt.Sprintf("h%d", i), srcs[i])
					results <- outcome{"cairn", runQuiet(t, r.envFor(), cairnBin, args...)}
				}()
			}
			restic := resticBin(t)
			go func() {
				args := append(append([]string{}, r.resticArgs...), "backup", "-q", "--host", "restic", srcs[writers])
				results <- outcome{"restic", runQuiet(t, r.envFor(), restic, args...)}
			}()
			for range writers + 1 {
				o := <-results
				quiet := o.res.stderr == ""
				if o.tool == "restic" {
					quiet = onlyLines(o.res.stderr, resticLockRetry)
				}
				if o.res.code != 0 || !quiet {
					t.Errorf("a concurrent %s backup failed or warned:\n%v", o.tool, o.res)
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
	for name, mk := range allRemotes() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mk(t)
			res := run(t, r.envFor(), cairnBin, append(r.cairnArgs, "snapshots")...)
			oneLine(t, res, 10, "does not exist")
		})
	}
}
