package faulty

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// HTTPProxy forwards HTTP requests to a server and can answer in its
// place with an error status, as an overloaded server or load balancer
// does.
type HTTPProxy struct {
	srv *httptest.Server

	mu       sync.Mutex
	failNext int
	loseNext int       // requests to forward and then answer with 502
	losePath string    // ... if their path contains this
	until    time.Time // fail every request before this time
	status   int
	failed   int
	requests int
}

// NewHTTPProxy starts a proxy on loopback in front of target
// ("http://host:port").
func NewHTTPProxy(target string) (*HTTPProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &HTTPProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests++
		fail := p.failNext > 0 || time.Now().Before(p.until)
		status := p.status
		if fail {
			p.failNext = max(p.failNext-1, 0)
			p.failed++
		}
		lose := !fail && p.loseNext > 0 && r.Method != http.MethodGet && r.Method != http.MethodHead &&
			strings.Contains(r.URL.Path, p.losePath)
		if lose {
			p.loseNext--
			p.failed++
		}
		p.mu.Unlock()
		switch {
		case fail:
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, "injected fault", status)
		case lose:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			http.Error(w, "injected fault: answer lost", http.StatusBadGateway)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	return p, nil
}

// URL is the proxy's base URL, "http://127.0.0.1:port".
func (p *HTTPProxy) URL() string { return p.srv.URL }

// FailNext answers the next n requests with status instead of forwarding
// them.
func (p *HTTPProxy) FailNext(n, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext, p.status = n, status
}

// FailFor answers every request with status for the next d, as a server
// that is down for a while.
func (p *HTTPProxy) FailFor(d time.Duration, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.until, p.status = time.Now().Add(d), status
}

// LoseNext forwards the next n requests that change something (not GET or
// HEAD) and whose path contains path to the server, and then answers 502
// instead of the server's answer, as when a connection breaks after the
// server has done the work.
func (p *HTTPProxy) LoseNext(n int, path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loseNext, p.losePath = n, path
}

// Counts reports how many requests arrived and how many were failed.
func (p *HTTPProxy) Counts() (requests, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, p.failed
}

// Close stops the proxy.
func (p *HTTPProxy) Close() { p.srv.Close() }
