package s3_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/s3"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestVirtualHostStyle: with bucket-lookup=dns the bucket goes into the
// host name ("bucket.s3.test"), as AWS wants it. The test resolves every
// *.s3.test name to the server itself and serves the virtual domain.
func TestVirtualHostStyle(t *testing.T) {
	s := testservers.Versitygw(t, "--virtual-domain", "s3.test")
	clearCredentials(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	_, port, _ := net.SplitHostPort(s.Host)

	var mu sync.Mutex
	var dialed []string
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, network, s.Host)
	}

	bucket := newBucket()
	cfg, err := s3.ParseConfig("s3:http://s3.test:" + port + "/" + bucket + "/pre")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetOption("bucket-lookup", "dns"); err != nil {
		t.Fatal(err)
	}
	cfg.Transport = tr
	be, err := s3.Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer func() { _ = be.Close() }()
	data := []byte("virtual host")
	h := backend.Handle{Type: backend.SnapshotFile, Name: hashName(data)}
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save = %v", err)
	}
	got, err := backend.LoadAll(t.Context(), be, h)
	if err != nil || string(got) != string(data) {
		t.Fatalf("LoadAll = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, bucket, "pre", "snapshots", h.Name)); err != nil {
		t.Errorf("the object is not where the bucket and prefix say: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	virtual := false
	for _, a := range dialed {
		if strings.HasPrefix(a, bucket+".s3.test:") {
			virtual = true
		}
	}
	if !virtual {
		t.Errorf("no request went to %s.s3.test; dialed %v", bucket, dialed)
	}
}
