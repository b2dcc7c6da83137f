package s3_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/s3"
)

// faultTransport passes requests to http.DefaultTransport unless told to
// fail them, and counts the requests in flight.
type faultTransport struct {
	mu       sync.Mutex
	status   int  // answer every request with this status, if not 0
	netErr   bool // fail every request without an answer
	truncate bool // cut GET bodies after a few bytes

	inFlight, maxInFlight atomic.Int64
}

func (f *faultTransport) set(fn func(f *faultTransport)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if n <= m || f.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	status, netErr, truncate := f.status, f.netErr, f.truncate
	f.mu.Unlock()
	switch {
	case netErr:
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, errors.New("injected network failure")
	case status != 0:
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return &http.Response{
			StatusCode: status,
			Status:     http.StatusText(status),
			Header:     http.Header{"Content-Type": {"text/plain"}},
			Body:       io.NopCloser(strings.NewReader("")),
			Request:    req,
		}, nil
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && truncate && req.Method == http.MethodGet && !strings.Contains(req.URL.RawQuery, "location") {
		resp.Body = &failingBody{rc: resp.Body, left: 10}
	}
	return resp, err
}

// failingBody fails after left bytes.
type failingBody struct {
	rc   io.ReadCloser
	left int
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("injected connection reset")
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= n
	return n, err
}

func (b *failingBody) Close() error { return b.rc.Close() }

func TestFaults(t *testing.T) {
	s := startServer(t)
	ft := &faultTransport{}
	cfg := config(t, s, newBucket())
	cfg.Transport = ft
	cfg.Region = "us-east-1"
	be := create(t, cfg)
	defer func() { _ = be.Close() }()
	data := bytes.Repeat([]byte("data"), 1000)
	h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
	save(t, be, h, data)

	transient := func(name string, err error) {
		t.Helper()
		if err == nil || backend.IsPermanent(err) {
			t.Errorf("%s = %v, want a transient error", name, err)
		}
	}
	readAll := func(rd io.Reader) error {
		_, err := io.ReadAll(rd)
		return err
	}

	ft.set(func(f *faultTransport) { f.truncate = true })
	transient("Load with a failing body", be.Load(t.Context(), h, 0, 0, readAll))
	ft.set(func(f *faultTransport) { f.truncate = false })

	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable,
		http.StatusTooManyRequests, http.StatusRequestTimeout} {
		ft.set(func(f *faultTransport) { f.status = status })
		_, err := be.Stat(t.Context(), h)
		transient("Stat answered "+http.StatusText(status), err)
		transient("Load answered "+http.StatusText(status), be.Load(t.Context(), h, 0, 0, readAll))
		transient("Save answered "+http.StatusText(status), be.Save(t.Context(), h, backend.NewByteReader(data)))
	}
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		ft.set(func(f *faultTransport) { f.status = status })
		_, err := be.Stat(t.Context(), h)
		if !backend.IsPermanent(err) || !strings.Contains(err.Error(), "access denied") {
			t.Errorf("Stat answered %d = %v, want a permanent access denied error", status, err)
		}
	}
	ft.set(func(f *faultTransport) { f.status, f.netErr = 0, true })
	_, err := be.Stat(t.Context(), h)
	transient("Stat with a network failure", err)
	transient("List with a network failure", be.List(t.Context(), backend.PackFile, func(backend.FileInfo) error { return nil }))
	ft.set(func(f *faultTransport) { f.netErr = false })

	if got, err := backend.LoadAll(t.Context(), be, h); err != nil || !bytes.Equal(got, data) {
		t.Errorf("LoadAll(%v) after the faults = %d bytes, %v, want %d bytes", h, len(got), err, len(data))
	}
}

// TestConnections checks that no more than Connections requests run at
// once.
func TestConnections(t *testing.T) {
	s := startServer(t)
	ft := &faultTransport{}
	cfg := config(t, s, newBucket())
	cfg.Transport = ft
	if err := cfg.SetOption("connections", "2"); err != nil {
		t.Fatal(err)
	}
	be := create(t, cfg)
	defer func() { _ = be.Close() }()

	wg, ctx := errgroup.WithContext(t.Context())
	for i := range 16 {
		wg.Go(func() error {
			data := bytes.Repeat([]byte{byte(i)}, 10000+i)
			h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
			if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
				return err
			}
			if _, err := be.Stat(ctx, h); err != nil {
				return err
			}
			_, err := backend.LoadAll(ctx, be, h)
			return err
		})
	}
	if err := wg.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := ft.maxInFlight.Load(); got > 2 || got < 1 {
		t.Errorf("at most %d requests ran at once, want 1 or 2", got)
	}
	if got := s3.DefaultConnections; got != 5 {
		t.Errorf("DefaultConnections = %d, want 5", got)
	}
}
