package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/testservers"
)

var azureRepoCount atomic.Int64

// azureRemote names a new container on Azurite, reached at endpoint (the
// service URL, Azurite's own or a proxy's), with the dev account's key in
// the environment as restic reads it.
func azureRemote(s *testservers.AzuriteServer, endpoint string) remote {
	return remote{
		repo:      fmt.Sprintf("azure:repo-%d-%d:/cairn", time.Now().UnixNano(), azureRepoCount.Add(1)),
		cairnArgs: []string{"-o", "azure.endpoint=" + endpoint},
		env:       []string{"AZURE_ACCOUNT_NAME=" + s.Account, "AZURE_ACCOUNT_KEY=" + s.Key},
	}
}

// connectProxy is an HTTPS proxy on loopback that tunnels every CONNECT,
// whatever host it names, to target. It counts the tunnels.
type connectProxy struct {
	ln      net.Listener
	target  string
	tunnels atomic.Int64
	wg      sync.WaitGroup
}

func newConnectProxy(t *testing.T, target string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *connectProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *connectProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.tunnel(c) })
	}
}

func (p *connectProxy) tunnel(c net.Conn) {
	defer func() { _ = c.Close() }()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil || req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer func() { _ = up.Close() }()
	p.tunnels.Add(1)
	_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// resticBinaries returns the restic versions to try, by minor version:
// the one the interop tests use (Debian's 0.14 in CI) and, when this
// machine has it, 0.19.1.
func resticBinaries(t *testing.T) map[string]string {
	bins := map[string]string{}
	add := func(bin string) {
		res := run(t, nil, bin, "version")
		var minor int
		if _, err := fmt.Sscanf(res.stdout, "restic 0.%d.", &minor); err != nil || res.code != 0 {
			t.Fatalf("restic version: %v", res)
		}
		bins[fmt.Sprintf("0.%d", minor)] = bin
	}
	add(resticBin(t))
	if p, err := filepath.Abs("../../../shared/bin/restic-0.19.1"); err == nil {
		if _, err := os.Stat(p); err == nil {
			add(p)
		}
	}
	return bins
}

// TestAzureEndToEnd runs the main job on Azurite over plain HTTP with
// -o azure.endpoint, then checks the repository with cairn.
func TestAzureEndToEnd(t *testing.T) {
	s := testservers.Azurite(t)
	r := azureRemote(s, s.Endpoint)
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
}

// TestAzureRestic: restic reads and writes the repository cairn wrote, and
// the other way round. restic has no endpoint option; how it is made to
// reach Azurite depends on its version:
//
//   - restic before 0.16 (Debian's 0.14) uses Azure's legacy SDK, which
//     sends every request for the account devstoreaccount1 to the
//     emulator at http://127.0.0.1:10000 (with the dev key, whatever
//     AZURE_ACCOUNT_KEY says). Azurite runs on that port.
//   - later restic always builds https://<AZURE_ACCOUNT_NAME>.blob.<AZURE_ENDPOINT_SUFFIX>/.
//     Azurite serves HTTPS with a certificate for
//     devstoreaccount1.blob.core.windows.net from a test CA (--cacert),
//     and both tools reach it through an HTTPS proxy on loopback
//     (HTTPS_PROXY) that tunnels every connection to Azurite; nothing
//     leaves the machine. cairn then uses the same default URL, without
//     azure.endpoint. restic 0.17 and later send an empty
//     x-ms-access-tier header unless a tier is set, which Azure ignores
//     and Azurite refuses (400 InvalidHeaderValue): restic gets
//     -o azure.access-tier=Hot.
func TestAzureRestic(t *testing.T) {
	for version, bin := range resticBinaries(t) {
		t.Run(version, func(t *testing.T) {
			var minor int
			_, _ = fmt.Sscanf(version, "0.%d", &minor)
			var r remote
			var proxy *connectProxy
			if minor < 16 {
				s := testservers.AzuriteOnEmulatorPort(t)
				r = azureRemote(s, s.Endpoint)
			} else {
				s, ca := testservers.AzuriteTLS(t)
				proxy = newConnectProxy(t, s.Host)
				r = azureRemote(s, "")
				r.cairnArgs = []string{"--cacert", ca}
				r.resticArgs = []string{"--cacert", ca}
				if minor >= 17 {
					r.resticArgs = append(r.resticArgs, "-o", "azure.access-tier=Hot")
				}
				r.env = append(r.env, "HTTPS_PROXY="+proxy.URL(), "NO_PROXY=", "no_proxy=")
			}
			restic := func(args ...string) string {
				t.Helper()
				// A restic that cannot reach the server retries for
				// minutes: give up sooner.
				res := run(t, r.envFor(), "timeout", append([]string{"60", bin}, append(append([]string{}, r.resticArgs...), args...)...)...)
				if res.code != 0 {
					t.Fatalf("restic %s %v: %v", version, args, res)
				}
				return res.stdout
			}
			src := t.TempDir()
			makeSampleTree(t, src)
			r.cairn(t, "init")
			r.cairn(t, "backup", "-q", src)
			restic("check", "--read-data")
			dst := t.TempDir()
			restic("restore", "latest", "--target", dst)
			compareTrees(t, src, filepath.Join(dst, src))

			writeFile(t, src, "new/by-restic", "restic's backup")
			restic("backup", "-q", src)
			r.cairn(t, "forget", "--keep-last", "1", "--prune")
			restic("check", "--read-data")
			r.cairn(t, "check", "--read-data")
			dst2 := t.TempDir()
			r.cairn(t, "restore", "latest", "--target", dst2)
			compareTrees(t, src, filepath.Join(dst2, src))
			if proxy != nil && proxy.tunnels.Load() == 0 {
				t.Error("nothing went through the proxy")
			}
		})
	}
}

// TestAzureWrongKey: a wrong account key is one line and exit code 1,
// without retrying; a missing repository is exit code 10.
func TestAzureWrongKey(t *testing.T) {
	s := testservers.Azurite(t)
	r := azureRemote(s, s.Endpoint)
	res := run(t, r.envFor(), cairnBin, append(r.cairnArgs, "snapshots")...)
	oneLine(t, res, 10, "does not exist")

	r.env = append(r.env, "AZURE_ACCOUNT_KEY=d3Jvbmcga2V5IGZvciB0aGUgZGV2IGFjY291bnQ=")
	start := time.Now()
	res = run(t, r.envFor(), cairnBin, append(r.cairnArgs, "init")...)
	oneLine(t, res, 1, "wrong credentials")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("init with a wrong key took %v; retried?", d)
	}
	if strings.Contains(res.stderr, s.Key[:10]) {
		t.Errorf("the key shows in the error: %s", res.stderr)
	}
}

// TestAzureServerRestart: Azurite stops in the middle of a backup and
// comes back on the same port and data; the backup retries and completes,
// and the repository checks clean.
func TestAzureServerRestart(t *testing.T) {
	s := testservers.Azurite(t)
	r := azureRemote(s, s.Endpoint)
	src := faultSource(t)
	r.cairn(t, "init")
	done := make(chan result, 1)
	go func() {
		done <- runQuiet(t, r.envFor(), cairnBin, append(append([]string{}, r.cairnArgs...), "backup", "-q", src)...)
	}()
	// Stop once the first pack has arrived, so that the backup is under way.
	deadline := time.Now().Add(30 * time.Second)
	for !hasPack(t, r) {
		if time.Now().After(deadline) {
			t.Fatal("no pack arrived within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	time.Sleep(2 * time.Second) // the backup meets a dead server for a while
	s.Restart()
	res := <-done
	if res.code != 0 {
		t.Fatalf("backup across a server restart:\n%v", res)
	}
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if res.stderr == "" {
		t.Fatal("the backup met no failure; the test tested nothing")
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "warning: ") || !strings.Contains(l, "retrying in") {
			t.Errorf("backup across a server restart: stderr line %q, want only retry warnings", l)
		}
	}
	r.cairn(t, "check", "--read-data")
	dst := t.TempDir()
	r.cairn(t, "restore", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src))
}

// hasPack reports whether the repository holds a pack file yet.
func hasPack(t *testing.T, r remote) bool {
	res := runQuiet(t, r.envFor(), cairnBin, append(append([]string{}, r.cairnArgs...), "list", "packs", "--no-lock")...)
	return res.code == 0 && strings.TrimSpace(res.stdout) != ""
}
