package s3_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/s3"
)

// TestMultipartUpload lowers the single-PUT limit so that a 12 MiB file
// goes up in three parts of 5 MiB (the S3 minimum), and reads it back
// whole and across part boundaries.
func TestMultipartUpload(t *testing.T) {
	defer s3.SetUploadSizes(8<<20, 5<<20)()
	s := startServer(t)
	cfg := config(t, s, newBucket())
	rec := &partCounter{rt: http.DefaultTransport.(*http.Transport).Clone()}
	cfg.Transport = rec
	be := create(t, cfg)
	defer func() { _ = be.Close() }()

	data := make([]byte, 12<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
	rd := backend.NewFileReader(bytes.NewReader(data), int64(len(data)))
	if err := be.Save(t.Context(), h, rd); err != nil {
		t.Fatalf("Save = %v", err)
	}
	if n := rec.count(); n != 3 {
		t.Errorf("uploaded %d parts, want 3", n)
	}
	got, err := backend.LoadAll(t.Context(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("LoadAll = %d bytes, %v; want the %d bytes saved", len(got), err, len(data))
	}
	off, n := int64(5<<20-100), 200 // across the first part boundary
	err = be.Load(t.Context(), h, n, off, func(r io.Reader) error {
		part, err := io.ReadAll(r)
		if err == nil && !bytes.Equal(part, data[off:off+int64(n)]) {
			t.Errorf("ranged load across parts returned other bytes")
		}
		return err
	})
	if err != nil {
		t.Fatalf("Load(range) = %v", err)
	}
	if fi, err := be.Stat(t.Context(), h); err != nil || fi.Size != int64(len(data)) {
		t.Errorf("Stat = %+v, %v; want size %d", fi, err, len(data))
	}
}

// partCounter counts the part uploads of multipart uploads.
type partCounter struct {
	rt    http.RoundTripper
	mu    sync.Mutex
	parts int
}

func (p *partCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && strings.Contains(r.URL.RawQuery, "partNumber=") {
		p.mu.Lock()
		p.parts++
		p.mu.Unlock()
	}
	return p.rt.RoundTrip(r)
}

func (p *partCounter) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parts
}
