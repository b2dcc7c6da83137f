package faulty

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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
		p.mu.Unlock()
		if fail {
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, "injected fault", status)
			return
		}
		rp.ServeHTTP(w, r)
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

// Counts reports how many requests arrived and how many were failed.
func (p *HTTPProxy) Counts() (requests, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, p.failed
}

// Close stops the proxy.
func (p *HTTPProxy) Close() { p.srv.Close() }
