// Package rest is a backend speaking the REST protocol of restic's
// rest-server (version 2, with a fallback to version 1 listings). Each
// call is one attempt: statuses are classified (404 missing, 5xx, 408 and
// 429 transient, the rest permanent) for the retry decorator that wraps
// every remote backend (package retry).
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairn-backup/cairn/internal/backend"
)

const (
	contentTypeV2 = "application/vnd.x.restic.rest.v2"
)

// Backend is a repository served over HTTP by rest-server or a compatible
// server. It is safe for concurrent use; at most Properties().Connections
// requests run at once.
type Backend struct {
	base   *url.URL // without user info, ending in "/"
	where  string   // base as a string, to shorten URLs in messages
	name   string   // the repository as shown in messages
	client *http.Client
	conns  int
	slots  backend.Slots

	user, pass string
	auth       bool
}

var _ backend.Backend = (*Backend)(nil)

// Open returns a backend for the existing repository cfg names. A missing
// repository (no config file) yields an error matching backend.ErrNotExist.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b := newBackend(cfg)
	if err := backend.CheckRepository(ctx, b, b.name); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// Create asks the server to create the repository cfg names (POST
// ?create=true) and returns a backend for it. It fails if the repository
// already has a config file.
func Create(ctx context.Context, cfg Config) (*Backend, error) {
	b := newBackend(cfg)
	_, err := b.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
	switch {
	case err == nil:
		_ = b.Close()
		return nil, backend.Permanent(fmt.Errorf("create repository %s: config file already exists", b.name))
	case !errors.Is(err, backend.ErrNotExist):
		_ = b.Close()
		return nil, fmt.Errorf("create repository %s: %w", b.name, err)
	}
	u := *b.base
	u.RawQuery = "create=true"
	resp, err := b.do(ctx, http.MethodPost, u.String(), nil, func(req *http.Request) {
		req.Header.Set("Content-Type", "binary/octet-stream")
	})
	if err == nil {
		drain(resp)
		err = checkStatus(resp, "create repository", http.StatusOK)
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("create repository %s: %w", b.name, err)
	}
	return b, nil
}

func newBackend(cfg Config) *Backend {
	conns := cfg.Connections
	if conns <= 0 {
		conns = DefaultConnections
	}
	base := *cfg.URL
	base.User = nil
	tr := cfg.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = conns
		tr = t
	} else if t, ok := tr.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, conns)
	}
	b := &Backend{
		base:   &base,
		where:  base.String(),
		client: &http.Client{Transport: tr},
		conns:  conns,
		slots:  backend.NewSlots(conns),
	}
	b.name = b.where
	if cfg.Name != "" {
		b.name = cfg.Name
	}
	b.user, b.pass, b.auth = cfg.credentials()
	return b
}

// Properties implements backend.Backend. rest-server refuses to overwrite
// files, so there is no atomic replace.
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: b.conns, HasAtomicReplace: false}
}

// Close implements backend.Backend.
func (b *Backend) Close() error {
	b.client.CloseIdleConnections()
	return nil
}

// fileURL returns the URL of h.
func (b *Backend) fileURL(h backend.Handle) (string, error) {
	if h.Type == backend.ConfigFile {
		return b.base.JoinPath("config").String(), nil
	}
	if h.Name == "" || strings.ContainsAny(h.Name, "/\\") || h.Name == "." || h.Name == ".." {
		return "", backend.Permanent(fmt.Errorf("invalid file name %q for %v", h.Name, h.Type))
	}
	switch h.Type {
	case backend.KeyFile, backend.LockFile, backend.SnapshotFile, backend.IndexFile, backend.PackFile:
	default:
		return "", backend.Permanent(fmt.Errorf("invalid file type %v", h.Type))
	}
	return b.base.JoinPath(h.Type.String(), h.Name).String(), nil
}

// do sends one request. The caller holds no slot; do does not either once
// it returns, so a response body is read without holding one. Transport
// errors are returned as they are (transient). A body that is an
// io.Closer is always closed, as the transport does.
func (b *Backend) do(ctx context.Context, method, u string, body io.Reader, setup func(*http.Request)) (*http.Response, error) {
	closeBody := func() {
		if c, ok := body.(io.Closer); ok {
			_ = c.Close()
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		closeBody()
		return nil, backend.Permanent(err)
	}
	req.Header.Set("Accept", contentTypeV2)
	if b.auth {
		req.SetBasicAuth(b.user, b.pass)
	}
	if setup != nil {
		setup(req)
	}
	if err := b.slots.Acquire(ctx); err != nil {
		closeBody()
		return nil, err
	}
	defer b.slots.Release()
	resp, err := b.client.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		err = fmt.Errorf("%s %s: %w", method, b.rel(u), err)
		if backend.IsCertificateError(err) {
			return nil, backend.Permanent(err)
		}
		return nil, err
	}
	return resp, nil
}

// rel returns u relative to the base URL, for messages.
func (b *Backend) rel(u string) string {
	if r, ok := strings.CutPrefix(u, b.where); ok {
		return r
	}
	return u
}

// drain reads a little of resp's body, so the connection can be reused, and
// closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	_ = resp.Body.Close()
}

// statusError is an unexpected HTTP status.
type statusError struct {
	op     string
	status string
	code   int
}

func (e *statusError) Error() string {
	switch e.code {
	case http.StatusUnauthorized:
		return fmt.Sprintf("%s: server response %s (wrong credentials?)", e.op, e.status)
	}
	return fmt.Sprintf("%s: unexpected server response %s", e.op, e.status)
}

// checkStatus classifies resp's status: one of want is success, 404 is
// ErrNotExist, 5xx, 408 and 429 are transient and any other status is
// permanent.
func checkStatus(resp *http.Response, op string, want ...int) error {
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	err := &statusError{op: op, status: resp.Status, code: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return backend.NotExist(err)
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return err
	}
	return backend.Permanent(err)
}

// closeNotifier passes a request body through and reports when the
// transport has closed it, so that the body is not rewound while the
// transport may still read it.
type closeNotifier struct {
	rd     io.Reader
	closed chan struct{}
}

func (c *closeNotifier) Read(p []byte) (int, error) { return c.rd.Read(p) }

func (c *closeNotifier) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

// Save implements backend.Backend. rest-server refuses to overwrite an
// existing file (403), which is a permanent error.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	u, err := b.fileURL(h)
	if err != nil {
		return err
	}
	op := "save " + h.String()
	if err := rd.Rewind(); err != nil {
		return backend.Permanent(fmt.Errorf("%s: rewind: %w", op, err))
	}
	length := rd.Length()
	var body io.Reader = http.NoBody
	var cn *closeNotifier
	if length > 0 {
		cn = &closeNotifier{rd: rd, closed: make(chan struct{})}
		body = cn
	}
	resp, err := b.do(ctx, http.MethodPost, u, body, func(req *http.Request) {
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/octet-stream")
	})
	if cn != nil {
		// The transport closes the body, maybe after Do returns.
		<-cn.closed
	}
	if err != nil {
		return err
	}
	drain(resp)
	return checkStatus(resp, op, http.StatusOK, http.StatusCreated)
}

// Load implements backend.Backend. A range reaching beyond the end of the
// file is a permanent error.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	u, err := b.fileURL(h)
	if err != nil {
		return err
	}
	if backend.InvalidRange(offset, length) {
		return backend.Permanent(fmt.Errorf("load %v: invalid range %d+%d", h, offset, length))
	}
	op := "load " + h.String()
	ranged := offset > 0 || length > 0
	resp, err := b.do(ctx, http.MethodGet, u, nil, func(req *http.Request) {
		if !ranged {
			return
		}
		r := "bytes=" + strconv.FormatInt(offset, 10) + "-"
		if length > 0 {
			r += strconv.FormatInt(offset+int64(length)-1, 10)
		}
		req.Header.Set("Range", r)
	})
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return b.unsatisfiable(ctx, h, length, offset, fn)
	}
	if err := checkStatus(resp, op, http.StatusOK, http.StatusPartialContent); err != nil {
		return err
	}
	var rd io.Reader = resp.Body
	if ranged && resp.StatusCode == http.StatusOK {
		// The server ignored the range: skip to it ourselves.
		if n, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
			if err == io.EOF && n == offset && length == 0 {
				return backend.CallLoadFn(strings.NewReader(""), fn)
			}
			if err == io.EOF {
				return backend.Permanent(fmt.Errorf("%s: offset %d beyond end of file", op, offset))
			}
			return fmt.Errorf("%s: %w", op, err)
		}
		if length > 0 {
			rd = io.LimitReader(rd, int64(length))
		}
	} else if size, ok := rangeSize(resp.Header.Get("Content-Range")); ok && resp.StatusCode == http.StatusPartialContent && offset > size {
		// rclone answers a range past the end with 206 and an empty body.
		return backend.LoadPastEnd(h, length, offset, size, fn)
	} else if length > 0 && resp.ContentLength >= 0 && resp.ContentLength != int64(length) {
		return backend.Permanent(fmt.Errorf("%s: range %d+%d beyond end of file (server sent %d bytes)",
			op, offset, length, resp.ContentLength))
	}
	return backend.CallLoadFn(rd, fn)
}

// rangeSize returns the complete length a Content-Range header
// ("bytes 0-99/1000") gives, if it gives one.
func rangeSize(h string) (int64, bool) {
	_, total, ok := strings.Cut(h, "/")
	if !ok || !strings.HasPrefix(h, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}

// unsatisfiable handles a 416 answer: reading zero bytes at the end of the
// file is fine, anything else is beyond the end.
func (b *Backend) unsatisfiable(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	fi, err := b.stat(ctx, h)
	if err != nil {
		return err
	}
	return backend.LoadPastEnd(h, length, offset, fi.Size, fn)
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	var fi backend.FileInfo
	err := func() error {
		var err error
		fi, err = b.stat(ctx, h)
		return err
	}()
	return fi, err
}

// stat sends one HEAD request.
func (b *Backend) stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	u, err := b.fileURL(h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	resp, err := b.do(ctx, http.MethodHead, u, nil, nil)
	if err != nil {
		return backend.FileInfo{}, err
	}
	drain(resp)
	if err := checkStatus(resp, "stat "+h.String(), http.StatusOK); err != nil {
		return backend.FileInfo{}, err
	}
	if resp.ContentLength < 0 {
		return backend.FileInfo{}, fmt.Errorf("stat %v: server sent no Content-Length", h)
	}
	return backend.FileInfo{Name: h.Name, Size: resp.ContentLength}, nil
}

// Remove implements backend.Backend. A server in append-only mode answers
// 403, which is a permanent error. rest-server answers 200 to deleting a
// missing file, so Remove checks with HEAD first.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	u, err := b.fileURL(h)
	if err != nil {
		return err
	}
	op := "remove " + h.String()
	if _, err := b.stat(ctx, h); err != nil {
		return err
	}
	resp, err := b.do(ctx, http.MethodDelete, u, nil, nil)
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode == http.StatusForbidden {
		return backend.Permanent(fmt.Errorf("%s: server refuses to delete (append-only?): %s", op, resp.Status))
	}
	return checkStatus(resp, op, http.StatusOK, http.StatusNoContent)
}

// List implements backend.Backend. With a version 1 server, whose listing
// has names only, it sends a HEAD request per file for the size.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.ConfigFile {
		return backend.ListConfig(ctx, b, fn)
	}
	if _, err := b.fileURL(backend.Handle{Type: t, Name: "x"}); err != nil {
		return err
	}
	u := b.base.JoinPath(t.String()).String() + "/"
	op := "list " + t.String()
	var (
		infos []backend.FileInfo
		names []string
		v2    bool
	)
	err := func() error {
		infos, names = nil, nil
		resp, err := b.do(ctx, http.MethodGet, u, nil, nil)
		if err != nil {
			return err
		}
		defer drain(resp)
		if resp.StatusCode == http.StatusNotFound && !strings.HasPrefix(resp.Header.Get("Server"), "rclone/") {
			v2 = true // an empty listing
			return nil
		}
		if err := checkStatus(resp, op, http.StatusOK); err != nil {
			return err
		}
		dec := json.NewDecoder(resp.Body)
		if v2 = resp.Header.Get("Content-Type") == contentTypeV2; v2 {
			var list []struct {
				Name string `json:"name"`
				Size int64  `json:"size"`
			}
			if err := dec.Decode(&list); err != nil {
				return fmt.Errorf("%s: decode: %w", op, err)
			}
			for _, e := range list {
				if !backend.ValidName(e.Name) || e.Size < 0 {
					return backend.Permanent(fmt.Errorf("%s: the server lists an invalid entry %q of size %d", op, e.Name, e.Size))
				}
				infos = append(infos, backend.FileInfo{Name: e.Name, Size: e.Size})
			}
			return nil
		}
		if err := dec.Decode(&names); err != nil {
			return fmt.Errorf("%s: decode: %w", op, err)
		}
		for _, name := range names {
			if !backend.ValidName(name) {
				return backend.Permanent(fmt.Errorf("%s: the server lists an invalid name %q", op, name))
			}
		}
		return nil
	}()
	if err != nil {
		return err
	}
	if v2 {
		for _, fi := range infos {
			if err := fn(fi); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range names {
		fi, err := b.Stat(ctx, backend.Handle{Type: t, Name: name})
		if errors.Is(err, backend.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return err
		}
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}
