// Package location turns a repository location ("/srv/repo",
// "sftp:host:/srv/repo", "rest:https://host/", "s3:host/bucket/prefix")
// and the -o options into an opened backend. It is the one place that
// builds the bottom of the backend stack: the backend, then the logging
// decorator (with a logger), the bandwidth limiter (if asked for) and, for
// remote backends, the retry decorator.
package location

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/limiter"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/backend/logger"
	"github.com/cairn-backup/cairn/internal/backend/rest"
	"github.com/cairn-backup/cairn/internal/backend/retry"
	"github.com/cairn-backup/cairn/internal/backend/s3"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
)

// Options say how to reach a backend.
type Options struct {
	// Extended holds the -o options, "backend.key" to value. Options of
	// backends other than the location's are ignored, so one set of
	// options can serve several repositories.
	Extended map[string]string
	// CACerts lists PEM files of certificate authorities trusted for
	// HTTPS besides the system's (--cacert).
	CACerts []string
	// Retry tunes the retry decorator around remote backends.
	Retry retry.Options
	// LimitUpload and LimitDownload cap the bandwidth in bytes per second
	// (0: no cap). Pack files that the local backend moves into place do
	// not count as uploads.
	LimitUpload, LimitDownload int64
	// Logger, if set, receives a debug line for every backend operation
	// (see package logger); nil leaves the logging decorator out.
	Logger *slog.Logger
	// TLSClientCert is a PEM file holding a client certificate and its
	// private key, presented to HTTPS servers (--tls-client-cert).
	TLSClientCert string
	// InsecureTLS skips verifying server certificates (--insecure-tls).
	InsecureTLS bool
	// UserAgent, if set, replaces the User-Agent of every HTTP request
	// (--http-user-agent).
	UserAgent string
	// StuckRequestTimeout, if set, is how long an HTTP request may go
	// without progress (sending its body, waiting for the response
	// headers, reading the response body); the request then fails and the
	// retry decorator tries again (--stuck-request-timeout).
	StuckRequestTimeout time.Duration
}

// ParseExtended turns "key=value" strings (the -o flags) into a map. Keys
// must name a backend ("sftp.command").
func ParseExtended(opts []string) (map[string]string, error) {
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid option %q: want key=value", o)
		}
		scheme, key, ok := strings.Cut(k, ".")
		if !ok || key == "" {
			return nil, fmt.Errorf("invalid option %q: the key must be backend.name, e.g. sftp.command", o)
		}
		if _, known := schemes[scheme]; !known {
			return nil, fmt.Errorf("invalid option %q: no backend %q", o, scheme)
		}
		m[k] = v
	}
	return m, nil
}

// schemes are the location prefixes cairn knows; false means known but
// not supported.
var schemes = map[string]bool{
	"local": true, "sftp": true, "rest": true, "s3": true, "rclone": true, "azure": true, "gs": true,
	"b2": false, "swift": false,
}

// Scheme returns the backend a location names: "local", "sftp", "rest",
// "s3", or another known scheme that cairn does not support.
func Scheme(location string) string {
	if strings.HasPrefix(location, "/") || strings.HasPrefix(location, ".") {
		return "local"
	}
	scheme, _, ok := strings.Cut(location, ":")
	if !ok {
		return "local"
	}
	if _, known := schemes[scheme]; known {
		return scheme
	}
	return "local" // a relative path with a colon in it
}

// StripPassword returns location with any password replaced by "***", for
// messages.
func StripPassword(location string) string {
	if Scheme(location) == "rest" {
		return rest.StripPassword(location)
	}
	return location
}

// options returns the extended options for scheme, without the prefix, in
// a stable order.
func (o Options) options(scheme string) [][2]string {
	var kv [][2]string
	for k, v := range o.Extended {
		if key, ok := strings.CutPrefix(k, scheme+"."); ok {
			kv = append(kv, [2]string{key, v})
		}
	}
	sort.Slice(kv, func(i, j int) bool { return kv[i][0] < kv[j][0] })
	return kv
}

// transport returns the HTTP transport the options ask for (CA
// certificates, client certificate, certificate checks, timeout, user
// agent), or nil for the default.
func (o Options) transport() (http.RoundTripper, error) {
	if len(o.CACerts) == 0 && o.TLSClientCert == "" && !o.InsecureTLS && o.UserAgent == "" && o.StuckRequestTimeout == 0 {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureTLS} //nolint:gosec // --insecure-tls asks for it
	if len(o.CACerts) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, f := range o.CACerts {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read CA certificate: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no PEM certificate in it", f)
			}
		}
		cfg.RootCAs = pool
	}
	if o.TLSClientCert != "" {
		pem, err := os.ReadFile(o.TLSClientCert)
		if err != nil {
			return nil, fmt.Errorf("read TLS client certificate: %w", err)
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate %s: %w", o.TLSClientCert, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	if o.UserAgent == "" && o.StuckRequestTimeout == 0 {
		return tr, nil
	}
	// The backends raise the idle connections of a bare *http.Transport
	// to their connection count; behind a wrapper they cannot.
	tr.MaxIdleConnsPerHost = 32
	var rt http.RoundTripper = tr
	if o.UserAgent != "" {
		rt = &userAgent{Transport: tr, agent: o.UserAgent}
	}
	if o.StuckRequestTimeout > 0 {
		// The guard also times the wait for the response headers, with
		// an error the retry decorator retries (the transport's own
		// ResponseHeaderTimeout error was not).
		rt = &stuckGuard{rt: rt, timeout: o.StuckRequestTimeout}
	}
	return rt, nil
}

// userAgent sets the User-Agent header of every request.
type userAgent struct {
	*http.Transport
	agent string
}

func (u *userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", u.agent)
	return u.Transport.RoundTrip(req)
}

// Open opens the existing repository at location. A repository that does
// not exist yields an error matching backend.ErrNotExist.
func Open(ctx context.Context, location string, opts Options) (backend.Backend, error) {
	return open(ctx, location, opts, false)
}

// Create opens the backend for a new repository at location, creating
// what the backend needs (directories, the bucket). It fails if a
// repository exists there.
func Create(ctx context.Context, location string, opts Options) (backend.Backend, error) {
	return open(ctx, location, opts, true)
}

func open(ctx context.Context, location string, opts Options, create bool) (backend.Backend, error) {
	scheme := Scheme(location)
	var (
		be  backend.Backend
		err error
	)
	var dial func() (backend.Backend, error)
	switch scheme {
	case "local":
		be, err := openLocal(location, create)
		if err != nil {
			return nil, err
		}
		return limiter.New(logger.New(be, opts.Logger), opts.LimitUpload, opts.LimitDownload), nil
	case "rest":
		dial = func() (backend.Backend, error) { return openREST(ctx, location, opts, create) }
	case "sftp":
		dial = func() (backend.Backend, error) { return openSFTP(ctx, location, opts, create) }
	case "s3":
		dial = func() (backend.Backend, error) { return openS3(ctx, location, opts, create) }
	case "gs":
		dial = func() (backend.Backend, error) { return openGS(ctx, location, opts, create) }
	case "azure":
		dial = func() (backend.Backend, error) { return openAzure(ctx, location, opts, create) }
	case "rclone":
		dial = func() (backend.Backend, error) { return openRclone(ctx, location, opts, create) }
	case "b2":
		return nil, backend.Permanent(errors.New("b2: repositories are not supported natively; use Backblaze's S3-compatible API instead, " +
			"s3:https://s3.REGION.backblazeb2.com/BUCKET/PATH with the application key ID and key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY " +
			"(or rclone:REMOTE:PATH with an rclone b2 remote)"))
	case "swift":
		return nil, backend.Permanent(errors.New("swift: repositories are not supported yet; reach OpenStack Swift through rclone:REMOTE:PATH (an rclone swift remote) or its S3 API"))
	default:
		return nil, fmt.Errorf("%s repositories are not supported (locations: a path, sftp:, rest:, s3:, rclone:, azure:, gs:)", scheme)
	}
	// Reaching the server is retried like every later call; errors in the
	// location or the options are permanent.
	op := "open " + StripPassword(location)
	if create {
		op = "create " + StripPassword(location)
	}
	err = retry.Do(ctx, opts.Retry, op, func(int) error {
		be, err = dial()
		return err
	})
	if err != nil {
		return nil, err
	}
	be = logger.New(be, opts.Logger)
	return retry.New(limiter.New(be, opts.LimitUpload, opts.LimitDownload), opts.Retry), nil
}

func openLocal(location string, create bool) (backend.Backend, error) {
	path := strings.TrimPrefix(location, "local:")
	if create {
		return local.Create(path)
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, backend.NotExist(fmt.Errorf("repository %s does not exist", path))
		}
		return nil, fmt.Errorf("repository %s: %w", path, err)
	}
	return local.Open(path)
}

func openREST(ctx context.Context, location string, opts Options, create bool) (backend.Backend, error) {
	cfg, err := rest.ParseConfig(location)
	if err != nil {
		return nil, backend.Permanent(err)
	}
	for _, kv := range opts.options("rest") {
		if err := cfg.SetOption(kv[0], kv[1]); err != nil {
			return nil, backend.Permanent(err)
		}
	}
	if cfg.Transport, err = opts.transport(); err != nil {
		return nil, backend.Permanent(err)
	}
	// Return a nil interface, not a nil *rest.Backend, on error.
	var be *rest.Backend
	if create {
		be, err = rest.Create(ctx, cfg)
	} else {
		be, err = rest.Open(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return be, nil
}

func openSFTP(ctx context.Context, location string, opts Options, create bool) (backend.Backend, error) {
	cfg, err := sftp.ParseConfig(location)
	if err != nil {
		return nil, backend.Permanent(err)
	}
	for _, kv := range opts.options("sftp") {
		if err := cfg.SetOption(kv[0], kv[1]); err != nil {
			return nil, backend.Permanent(err)
		}
	}
	var be *sftp.Backend
	if create {
		be, err = sftp.Create(ctx, cfg)
	} else {
		be, err = sftp.Open(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return be, nil
}

func openS3(ctx context.Context, location string, opts Options, create bool) (backend.Backend, error) {
	cfg, err := s3.ParseConfig(location)
	if err != nil {
		return nil, backend.Permanent(err)
	}
	for _, kv := range opts.options("s3") {
		if err := cfg.SetOption(kv[0], kv[1]); err != nil {
			return nil, backend.Permanent(err)
		}
	}
	if cfg.Transport, err = opts.transport(); err != nil {
		return nil, backend.Permanent(err)
	}
	var be *s3.Backend
	if create {
		be, err = s3.Create(ctx, cfg)
	} else {
		be, err = s3.Open(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return be, nil
}
