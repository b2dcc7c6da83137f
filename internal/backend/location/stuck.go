package location

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// errStuck is the cause given to a request's context when it made no
// progress for too long.
var errStuck = errors.New("stuck request")

// stuckGuard fails an HTTP request that makes no progress for timeout:
// no byte of the request body taken by the transport, no response
// headers, no byte of the response body. A link that silently stops
// carrying traffic otherwise holds a request forever, since TCP sees
// nothing wrong. The error it returns is not a context error, so that the
// retry decorator tries again on a fresh connection.
type stuckGuard struct {
	rt      http.RoundTripper
	timeout time.Duration
}

func (g *stuckGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(g.timeout, func() { cancel(errStuck) })
	alive := func() { timer.Reset(g.timeout) }
	done := func() { timer.Stop(); cancel(nil) }

	req = req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &progressReader{rc: req.Body, alive: alive}
		if getBody := req.GetBody; getBody != nil {
			req.GetBody = func() (io.ReadCloser, error) {
				rc, err := getBody()
				if err != nil {
					return nil, err
				}
				return &progressReader{rc: rc, alive: alive}, nil
			}
		}
	}
	resp, err := g.rt.RoundTrip(req)
	if err != nil {
		stuck := context.Cause(ctx) == errStuck
		done()
		if stuck {
			return nil, g.stuckError(req)
		}
		return nil, err
	}
	alive()
	resp.Body = &progressReader{rc: resp.Body, alive: alive, done: done, stuck: func() error {
		if context.Cause(ctx) == errStuck {
			return g.stuckError(req)
		}
		return nil
	}}
	return resp, nil
}

func (g *stuckGuard) stuckError(req *http.Request) error {
	return fmt.Errorf("%s %s: no progress for %v (--stuck-request-timeout)", req.Method, req.URL.Redacted(), g.timeout)
}

// progressReader reports every read that returns bytes as progress. As a
// response body it also ends the guard on Close and turns the error of a
// read cut by the guard into the guard's error.
type progressReader struct {
	rc    io.ReadCloser
	alive func()
	done  func()       // nil for request bodies
	stuck func() error // nil for request bodies
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.rc.Read(b)
	if n > 0 {
		p.alive()
	}
	if err != nil && err != io.EOF && p.stuck != nil {
		if serr := p.stuck(); serr != nil {
			err = serr
		}
	}
	return n, err
}

func (p *progressReader) Close() error {
	err := p.rc.Close()
	if p.done != nil {
		p.done()
	}
	return err
}
