package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
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

// BenchmarkRemoteBackup backs the same data up with restic and with cairn
// to each remote backend, each run into a fresh repository, and reports
// wall time (ns/op), CPU seconds and peak RSS of the backup process.
// cairn reaches SFTP with its own SSH client, restic with OpenSSH's ssh.
//
//	go test -run '^$' -bench RemoteBackup -benchtime 3x ./cmd/cairn
func BenchmarkRemoteBackup(b *testing.B) { benchRemote(b, false) }

// withLatency returns addr, or with $BENCH_REMOTE_LATENCY set (e.g.
// "20ms") the address of a proxy in front of it that delays every byte by
// that much each way.
func withLatency(b *testing.B, addr string) string {
	v := os.Getenv("BENCH_REMOTE_LATENCY")
	if v == "" {
		return addr
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Fatalf("BENCH_REMOTE_LATENCY: %v", err)
	}
	p, err := faulty.NewProxy(addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	p.SetLatency(d)
	return p.Addr()
}

// benchSSHD starts sshd and, with $BENCH_REMOTE_LATENCY, moves it behind a
// latency proxy: Port is the proxy's, and known_hosts knows the host key
// there too.
func benchSSHD(b *testing.B) *testservers.SFTP {
	s := testservers.SSHD(b)
	addr := withLatency(b, net.JoinHostPort(s.Host, s.Port))
	_, port, _ := net.SplitHostPort(addr)
	if port == s.Port {
		return s
	}
	known, err := os.ReadFile(s.KnownHosts)
	if err != nil {
		b.Fatal(err)
	}
	line := strings.Replace(string(known), "]:"+s.Port+" ", "]:"+port+" ", 1)
	if err := os.WriteFile(s.KnownHosts, append(known, line...), 0o600); err != nil {
		b.Fatal(err)
	}
	moved := *s
	moved.Port = port
	return &moved
}

// BenchmarkRemoteRestore is BenchmarkRemoteBackup for restoring: each tool
// backs the data up once, untimed, then restores it into a fresh
// directory per run, with an empty cache.
func BenchmarkRemoteRestore(b *testing.B) { benchRemote(b, true) }

func benchRemote(b *testing.B, restore bool) {
	if _, err := exec.LookPath("restic"); err != nil {
		b.Skip("restic is not installed")
	}
	src := b.TempDir()
	size := 256 << 20
	if v := os.Getenv("BENCH_REMOTE_MIB"); v != "" {
		var mib int
		if _, err := fmt.Sscan(v, &mib); err == nil && mib > 0 {
			size = mib << 20
		}
	}
	benchData(b, src, size)
	backends := []struct {
		name  string
		start func(b *testing.B) func(name string) remote
	}{
		{"sftp", func(b *testing.B) func(string) remote {
			s := benchSSHD(b)
			return func(name string) remote {
				dir := filepath.Join(s.Dir, name)
				return remote{
					repo:       fmt.Sprintf("sftp://%s@%s/%s", s.User, net.JoinHostPort(s.Host, s.Port), dir),
					cairnArgs:  []string{"-o", "sftp.key=" + s.KeyFile, "-o", "sftp.known-hosts=" + s.KnownHosts},
					resticArgs: []string{"-o", "sftp.command=" + s.SSHCommand()},
					dir:        dir,
				}
			}
		}},
		{"rest", func(b *testing.B) func(string) remote {
			base := "http://" + withLatency(b, strings.TrimPrefix(testservers.RestServer(b, "--no-auth"), "http://"))
			return func(name string) remote { return remote{repo: "rest:" + base + "/" + name + "/"} }
		}},
		{"s3", func(b *testing.B) func(string) remote {
			s := testservers.Versitygw(b)
			endpoint := "http://" + withLatency(b, s.Host)
			return func(name string) remote {
				r := s3Remote(s, endpoint)
				r.repo = "s3:" + endpoint + "/" + name
				return r
			}
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			mk := be.start(b)
			for _, tool := range []string{"restic", "cairn"} {
				b.Run(tool, func(b *testing.B) {
					var cpu time.Duration
					var rss int64
					var r remote
					if restore {
						r = mk(fmt.Sprintf("%s-%d", tool, time.Now().UnixNano()))
						benchRun(b, tool, r, "init")
						benchRun(b, tool, r, "backup", "-q", "--host", "bench", src)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						args := []string{"restore", "-q", "latest", "--target", b.TempDir()}
						if !restore {
							r = mk(fmt.Sprintf("%s-%d-%d", tool, i, time.Now().UnixNano()))
							benchRun(b, tool, r, "init")
							args = []string{"backup", "-q", "--host", "bench", src}
						}
						b.StartTimer()
						st, peak := benchRun(b, tool, r, args...)
						b.StopTimer()
						ru := st.SysUsage().(*syscall.Rusage)
						cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
						rss = max(rss, peak)
					}
					b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
					b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
					b.ReportMetric(float64(size)/(1<<20)/(float64(b.Elapsed())/1e9/float64(b.N)), "MiB/s")
				})
			}
		})
	}
}

// benchRun runs one tool on r and returns its process state (its CPU time
// includes the small wrapper's, see measurePeakRSS) and its peak RSS in KiB.
func benchRun(b *testing.B, tool string, r remote, args ...string) (*os.ProcessState, int64) {
	b.Helper()
	bin, flags := cairnBin, r.cairnArgs
	if tool == "restic" {
		bin, flags = "restic", r.resticArgs
	}
	cmd := exec.Command(bin, append(append([]string{}, flags...), args...)...)
	cmd.Env = append(os.Environ(), r.envFor()...)
	cmd.Env = append(cmd.Env, "CAIRN_KDF_PARAMS=1024,8,1",
		"RESTIC_CACHE_DIR="+filepath.Join(b.TempDir(), "cache"), "CAIRN_CACHE_DIR="+filepath.Join(b.TempDir(), "cache"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	peak := measurePeakRSS(b, cmd)
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v\n%s", tool, args, err, out.String())
	}
	return cmd.ProcessState, peak()
}

// benchData writes size bytes in files of 1 to 8 MiB, half random and
// half compressible text, the same for every tool.
func benchData(b *testing.B, dir string, size int) {
	rng := rand.New(rand.NewPCG(42, 43))
	for i, left := 0, size; left > 0; i++ {
		n := min(left, (1+rng.IntN(8))<<20)
		buf := make([]byte, n)
		if i%2 == 0 {
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
		} else {
			for j := range buf {
				buf[j] = "abcdefgh ijklmnop\n"[rng.IntN(18)]
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), buf, 0o600); err != nil {
			b.Fatal(err)
		}
		left -= n
	}
}
