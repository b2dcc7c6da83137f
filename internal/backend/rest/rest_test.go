package rest_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/rest"
	"github.com/cairn-backup/cairn/internal/backend/retry"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// startServer runs rest-server with args on a free loopback port and
// returns its base URL; it is stopped when the test ends.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	return testservers.RestServer(t, args...)
}

var repoCount atomic.Int64

// create makes a new repository under the server at base.
func create(t testing.TB, base string) *rest.Backend {
	t.Helper()
	loc := fmt.Sprintf("rest:%s/repo%d/", base, repoCount.Add(1))
	cfg, err := rest.ParseConfig(loc)
	if err != nil {
		t.Fatalf("ParseConfig(%q) = %v, want nil", loc, err)
	}
	be, err := rest.Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Create(%q) = %v, want nil", loc, err)
	}
	return be
}

func hashName(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func saveData(t *testing.T, be backend.Backend, typ backend.FileType, data []byte) backend.Handle {
	t.Helper()
	h := backend.Handle{Type: typ, Name: hashName(data)}
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save(%v) = %v, want nil", h, err)
	}
	return h
}

func TestBackend(t *testing.T) {
	base := startServer(t, "--no-auth")
	backendtest.Run(t, func(t *testing.T) backend.Backend { return create(t, base) })
}

func TestBackendAppendOnly(t *testing.T) {
	base := startServer(t, "--no-auth", "--append-only")
	backendtest.RunAppendOnly(t, func(t *testing.T) backend.Backend { return create(t, base) })
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name     string
		location string
		want     string // URL, with user info
		wantErr  bool
	}{
		{name: "root", location: "rest:http://localhost:8000/", want: "http://localhost:8000/"},
		{name: "no slash", location: "rest:http://localhost:8000", want: "http://localhost:8000/"},
		{name: "path", location: "rest:https://host:8000/repo", want: "https://host:8000/repo/"},
		{name: "auth", location: "rest:http://u:p%40ss@host:8000/r/", want: "http://u:p%40ss@host:8000/r/"},
		{name: "no prefix", location: "http://host:8000/", wantErr: true},
		{name: "bad scheme", location: "rest:ftp://host/", wantErr: true},
		{name: "no host", location: "rest:http:///repo", wantErr: true},
		{name: "query", location: "rest:http://host/repo?x=1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := rest.ParseConfig(tt.location)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseConfig(%q) = %v, want error", tt.location, cfg.URL)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q) = %v, want nil", tt.location, err)
			}
			if got := cfg.URL.String(); got != tt.want {
				t.Errorf("ParseConfig(%q).URL = %q, want %q", tt.location, got, tt.want)
			}
		})
	}
}

func TestStripPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rest:http://host:8000/repo/", "rest:http://host:8000/repo/"},
		{"rest:http://user:secret@host:8000/repo/", "rest:http://user:***@host:8000/repo/"},
		{"rest:http://user@host:8000/", "rest:http://user@host:8000/"},
	}
	for _, tt := range tests {
		got := rest.StripPassword(tt.in)
		if got != tt.want {
			t.Errorf("StripPassword(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "secret") {
			t.Errorf("StripPassword(%q) = %q, still holds the password", tt.in, got)
		}
	}
	// A parse error must not leak the password either.
	_, err := rest.ParseConfig("rest:http://user:secret@host:badport/")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("ParseConfig(bad port) = %v, want an error without the password", err)
	}
}

func TestOpen(t *testing.T) {
	base := startServer(t, "--no-auth")
	be := create(t, base)
	defer func() { _ = be.Close() }()
	config := []byte("config content")
	if err := be.Save(t.Context(), backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader(config)); err != nil {
		t.Fatalf("Save(config) = %v, want nil", err)
	}
	pack := bytes.Repeat([]byte("pack"), 1000)
	ph := saveData(t, be, backend.PackFile, pack)

	loc := fmt.Sprintf("rest:%s/repo%d", base, repoCount.Load())
	cfg, err := rest.ParseConfig(loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rest.Create(t.Context(), cfg); err == nil {
		t.Errorf("Create(%q) of an existing repository = nil, want error", loc)
	}
	be2, err := rest.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open(%q) = %v, want nil", loc, err)
	}
	defer func() { _ = be2.Close() }()
	got, err := backend.LoadAll(t.Context(), be2, backend.Handle{Type: backend.ConfigFile})
	if err != nil || !bytes.Equal(got, config) {
		t.Errorf("LoadAll(config) = %q, %v, want %q, nil", got, err, config)
	}
	var names []string
	if err := be2.List(t.Context(), backend.PackFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatalf("List(data) = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{ph.Name}, names); diff != "" {
		t.Errorf("List(data) mismatch (-want +got):\n%s", diff)
	}

	missing, err := rest.ParseConfig("rest:" + base + "/nosuchrepo/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rest.Open(t.Context(), missing); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Open(missing repository) = %v, want ErrNotExist", err)
	}
}

func TestAppendOnly(t *testing.T) {
	base := startServer(t, "--no-auth", "--append-only")
	var deletes atomic.Int64
	front := proxy(t, base, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete {
			deletes.Add(1)
		}
		return false
	})
	be := create(t, front)
	defer func() { _ = be.Close() }()
	h := saveData(t, be, backend.PackFile, []byte("append only"))

	err := be.Remove(t.Context(), h)
	if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Remove(%v) = %v, want a permanent error", h, err)
	}
	if !strings.Contains(err.Error(), "append-only") {
		t.Errorf("Remove(%v) = %q, want a message about append-only", h, err)
	}
	if n := deletes.Load(); n != 1 {
		t.Errorf("Remove(%v) sent %d DELETE requests, want 1 (no retries)", h, n)
	}
	if _, err := be.Stat(t.Context(), h); err != nil {
		t.Errorf("Stat(%v) after refused Remove = %v, want nil", h, err)
	}
}

func TestAuth(t *testing.T) {
	dir := t.TempDir()
	sum := sha1.Sum([]byte("secret"))
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("ci:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, "--htpasswd-file", htpasswd)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CAIRN_REST_USERNAME", "")
	t.Setenv("CAIRN_REST_PASSWORD", "")
	t.Setenv("RESTIC_REST_USERNAME", "")
	t.Setenv("RESTIC_REST_PASSWORD", "")

	try := func(userinfo string, repo string) error {
		cfg, err := rest.ParseConfig("rest:http://" + userinfo + u.Host + "/" + repo + "/")
		if err != nil {
			t.Fatal(err)
		}
		be, err := rest.Create(t.Context(), cfg)
		if err != nil {
			return err
		}
		defer func() { _ = be.Close() }()
		return be.Save(t.Context(), backend.Handle{Type: backend.KeyFile, Name: hashName([]byte(repo))}, backend.NewByteReader([]byte(repo)))
	}

	if err := try("ci:secret@", "url"); err != nil {
		t.Errorf("credentials in the URL: %v, want nil", err)
	}
	err = try("ci:wrong@", "wrong")
	if err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong password: %v, want a permanent 401 error", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong@") {
		t.Errorf("error %q holds the password", err)
	}
	if err := try("", "none"); err == nil {
		t.Errorf("no credentials: nil, want error")
	}
	t.Setenv("CAIRN_REST_USERNAME", "ci")
	t.Setenv("CAIRN_REST_PASSWORD", "secret")
	if err := try("", "env"); err != nil {
		t.Errorf("credentials from CAIRN_REST_*: %v, want nil", err)
	}
	t.Setenv("CAIRN_REST_USERNAME", "")
	t.Setenv("CAIRN_REST_PASSWORD", "")
	t.Setenv("RESTIC_REST_USERNAME", "ci")
	t.Setenv("RESTIC_REST_PASSWORD", "secret")
	if err := try("", "resticenv"); err != nil {
		t.Errorf("credentials from RESTIC_REST_*: %v, want nil", err)
	}
}

// proxy starts an HTTP server in front of target; hook may answer a request
// itself by returning true.
func proxy(t *testing.T, target string, hook func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hook != nil && hook(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestV1Listing talks to the server as a version 1 client would be
// answered: listings carry names only and sizes come from HEAD requests.
func TestV1Listing(t *testing.T) {
	base := startServer(t, "--no-auth")
	var heads atomic.Int64
	v1 := proxy(t, base, func(w http.ResponseWriter, r *http.Request) bool {
		r.Header.Del("Accept")
		if r.Method == http.MethodHead {
			heads.Add(1)
		}
		return false
	})
	be := create(t, v1)
	defer func() { _ = be.Close() }()
	want := map[string]int64{}
	for _, n := range []int{1, 10, 100} {
		data := bytes.Repeat([]byte("x"), n)
		h := saveData(t, be, backend.SnapshotFile, data)
		want[h.Name] = int64(n)
	}
	heads.Store(0)
	got := map[string]int64{}
	if err := be.List(t.Context(), backend.SnapshotFile, func(fi backend.FileInfo) error {
		got[fi.Name] = fi.Size
		return nil
	}); err != nil {
		t.Fatalf("List(snapshots) = %v, want nil", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List(snapshots) mismatch (-want +got):\n%s", diff)
	}
	if n := heads.Load(); n != int64(len(want)) {
		t.Errorf("List(snapshots) sent %d HEAD requests, want %d", n, len(want))
	}
}

// TestRetry: the backend classifies statuses so that the shared retry
// decorator retries 5xx and gives up at once on other errors.
func TestRetry(t *testing.T) {
	base := startServer(t, "--no-auth")
	var failures, posts atomic.Int64
	var status atomic.Int64
	front := proxy(t, base, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || r.URL.RawQuery != "" {
			return false
		}
		posts.Add(1)
		if failures.Add(-1) >= 0 {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(int(status.Load()))
			return true
		}
		return false
	})
	be := retry.New(create(t, front), retry.Options{Attempts: 3, Backoff: time.Millisecond})
	defer func() { _ = be.Close() }()

	tests := []struct {
		name      string
		status    int
		failures  int64
		wantPosts int64
		wantErr   bool
	}{
		{name: "transient then ok", status: http.StatusInternalServerError, failures: 2, wantPosts: 3},
		{name: "transient always", status: http.StatusServiceUnavailable, failures: 10, wantPosts: 3, wantErr: true},
		{name: "permanent", status: http.StatusBadRequest, failures: 10, wantPosts: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status.Store(int64(tt.status))
			failures.Store(tt.failures)
			posts.Store(0)
			data := []byte(tt.name)
			h := backend.Handle{Type: backend.IndexFile, Name: hashName(data)}
			err := be.Save(t.Context(), h, backend.NewByteReader(data))
			if (err != nil) != tt.wantErr {
				t.Errorf("Save(%v) = %v, want error %v", h, err, tt.wantErr)
			}
			if got := posts.Load(); got != tt.wantPosts {
				t.Errorf("Save(%v) sent %d requests, want %d", h, got, tt.wantPosts)
			}
			if !tt.wantErr {
				got, err := backend.LoadAll(t.Context(), be, h)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("LoadAll(%v) = %q, %v, want %q, nil", h, got, err, data)
				}
			}
		})
	}
}

// TestConnections checks that no more than Properties().Connections
// requests reach the server at once.
func TestConnections(t *testing.T) {
	base := startServer(t, "--no-auth")
	var cur, peak atomic.Int64
	front := proxy(t, base, func(w http.ResponseWriter, r *http.Request) bool {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		return false
	})
	be := create(t, front)
	defer func() { _ = be.Close() }()
	peak.Store(0)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			data := []byte(fmt.Sprintf("file %d", i))
			h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
			if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
				t.Errorf("Save(%v) = %v, want nil", h, err)
			}
		})
	}
	wg.Wait()
	if p, max := peak.Load(), int64(be.Properties().Connections); p > max || p < 2 {
		t.Errorf("peak concurrent requests = %d, want 2..%d", p, max)
	}
}
