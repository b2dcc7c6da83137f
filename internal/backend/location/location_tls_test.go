package location_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/backend/retry"
)

// clientCert makes a self-signed client certificate and writes it with
// its key into one PEM file, as restic's --tls-client-cert takes it.
func clientCert(t *testing.T, dir string) (*x509.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "cairn-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalECPrivateKey(key)
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...)
	path := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, path
}

// TestRESTClientCertAndUserAgent: against an HTTPS server that demands a
// client certificate, --tls-client-cert gets in and nothing else does;
// --insecure-tls stands in for --cacert; --http-user-agent is the
// User-Agent of every request.
func TestRESTClientCertAndUserAgent(t *testing.T) {
	dir := t.TempDir()
	cert, certFile := clientCert(t, dir)
	var mu sync.Mutex
	var agents []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.UserAgent())
		mu.Unlock()
		if r.URL.Path == "/config" {
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusOK)
			return
		}
		http.NotFound(w, r)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	loc := "rest:" + srv.URL + "/"
	once := retry.Options{Attempts: 1}

	cases := []struct {
		name string
		opts location.Options
		ok   bool
	}{
		{"no client certificate", location.Options{CACerts: []string{caFile}}, false},
		{"unknown server CA", location.Options{TLSClientCert: certFile}, false},
		{"client certificate and CA", location.Options{CACerts: []string{caFile}, TLSClientCert: certFile, UserAgent: "backup-job/2.1"}, true},
		{"client certificate, insecure TLS", location.Options{InsecureTLS: true, TLSClientCert: certFile, UserAgent: "backup-job/2.1"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Retry = once
			mu.Lock()
			agents = nil
			mu.Unlock()
			be, err := location.Open(t.Context(), loc, c.opts)
			if (err == nil) != c.ok {
				t.Fatalf("Open = %v, want success %v", err, c.ok)
			}
			if err != nil {
				return
			}
			defer func() { _ = be.Close() }()
			mu.Lock()
			defer mu.Unlock()
			if len(agents) == 0 {
				t.Fatal("the server saw no request")
			}
			for _, a := range agents {
				if a != "backup-job/2.1" {
					t.Errorf("User-Agent = %q, want backup-job/2.1", a)
				}
			}
		})
	}

	if _, err := location.Open(t.Context(), loc, location.Options{TLSClientCert: filepath.Join(dir, "missing.pem"), Retry: once}); err == nil {
		t.Error("Open with a missing client certificate file succeeded")
	}
	if _, err := location.Open(t.Context(), loc, location.Options{TLSClientCert: caFile, Retry: once}); err == nil {
		t.Error("Open with a client certificate file without a key succeeded")
	}
}

// TestStuckRequestTimeout: a server that does not answer within
// --stuck-request-timeout fails the request, instead of hanging.
func TestStuckRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := location.Open(t.Context(), "rest:"+srv.URL+"/", location.Options{StuckRequestTimeout: 300 * time.Millisecond, Retry: retry.Options{Attempts: 1}})
	if err == nil {
		t.Fatal("Open against a server that never answers succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open gave up after %v, want about 300ms", d)
	}
}
