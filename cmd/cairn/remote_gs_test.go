package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
// restic read and write it with its own gs client:
//
//   - restic 0.14 (Debian's, the one CI has) ignores STORAGE_EMULATOR_HOST
//     for part of its requests, which go to https://storage.googleapis.com
//     whatever the environment says; with the variable set, its listings
//     fail ("storage: bucket doesn't exist"). It reaches the emulator
//     through googleProxy instead, which poses as storage.googleapis.com,
//     with the proxy's CA passed as --cacert and no STORAGE_EMULATOR_HOST.
//   - restic 0.19.1 (cloud.google.com/go/storage 1.62) honours
//     STORAGE_EMULATOR_HOST; it runs when it is on this machine. It wants
//     a credential even then, and fake-gcs-server checks none, so both
//     restics get a made-up GOOGLE_ACCESS_TOKEN.
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

	proxy, ca, noToken := googleProxy(t, g)
	r14 := r
	r14.env = []string{"GOOGLE_PROJECT_ID=cairn-test", "HTTPS_PROXY=" + proxy, "GOOGLE_ACCESS_TOKEN=unchecked"}
	r14.resticArgs = []string{"--cacert", ca}
	r14.restic(t, "check", "--read-data")
	writeFile(t, src, "new/by-restic-0.14", "third backup")
	r14.restic(t, "backup", "-q", src)
	// cairn the same way: Google's endpoint, the token sent, --cacert.
	r14.cairnArgs = []string{"--cacert", ca}
	r14.cairn(t, "check", "--read-data")
	if n := len(sortedLines(r14.cairn(t, "list", "snapshots"))); n != 2 {
		t.Errorf("after restic's backup: %d snapshots, want 2", n)
	}
	if n := noToken.Load(); n != 0 {
		t.Errorf("%d requests to storage.googleapis.com came without GOOGLE_ACCESS_TOKEN", n)
	}

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
	for !hasPackOnDisk(r.dir) {
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

// hasPackOnDisk reports whether the repository on the server's disk holds a
// pack file.
func hasPackOnDisk(repo string) bool {
	m, _ := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	return len(m) > 0
}

// googleProxy stands in for storage.googleapis.com in front of g, for
// clients that cannot be pointed at an emulator (restic 0.14): an HTTPS
// proxy (HTTPS_PROXY) that answers CONNECT itself, speaks TLS with a
// certificate for storage.googleapis.com from a throw-away CA, and passes
// the requests inside on to g. It returns the proxy's URL, the CA's PEM
// file, for --cacert, and a count of the requests that came without the
// bearer token "unchecked".
func googleProxy(t *testing.T, g *testservers.GCS) (proxyURL, caFile string, noToken *atomic.Int64) {
	t.Helper()
	caFile, cert := googleCert(t)
	target, err := url.Parse(g.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	direct := rp.Director
	noToken = new(atomic.Int64)
	rp.Director = func(r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer unchecked" {
			noToken.Add(1)
		}
		direct(r)
		r.Host = target.Host
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	inner := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	conns := make(chan net.Conn)
	l := &chanListener{conns: conns, done: make(chan struct{})}
	go func() { _ = inner.Serve(l) }()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Host != "storage.googleapis.com:443" {
			http.Error(w, "only CONNECT storage.googleapis.com:443", http.StatusForbidden)
			return
		}
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			_ = c.Close()
			return
		}
		select {
		case conns <- tls.Server(c, tlsCfg):
		case <-l.done:
			_ = c.Close()
		}
	}))
	t.Cleanup(func() {
		outer.Close()
		_ = l.Close()
		_ = inner.Close()
	})
	return outer.URL, caFile, noToken
}

// chanListener is a net.Listener of the connections sent on conns.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// googleCert makes a CA, written to a PEM file, and a certificate it
// signed for storage.googleapis.com.
func googleCert(t *testing.T) (caFile string, cert tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cairn test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "storage.googleapis.com"},
		DNSNames:  []string{"storage.googleapis.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
