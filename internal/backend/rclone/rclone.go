package rclone

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/rest"
)

// Backend is a rest backend whose server is an rclone child process.
type Backend struct {
	*rest.Backend
	t *transport
}

var _ backend.Backend = (*Backend)(nil)

// Open starts rclone for the existing repository cfg names.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	return open(ctx, cfg, rest.Open)
}

// Create starts rclone and creates a repository at cfg's remote.
func Create(ctx context.Context, cfg Config) (*Backend, error) {
	return open(ctx, cfg, rest.Create)
}

func open(ctx context.Context, cfg Config, fn func(context.Context, rest.Config) (*rest.Backend, error)) (*Backend, error) {
	if _, err := SplitArgs(cfg.Args); err != nil {
		return nil, backend.Permanent(fmt.Errorf("rclone.args: %w", err))
	}
	t := &transport{cfg: cfg}
	p, err := t.current()
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse("http://localhost/")
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rb, err := fn(octx, rest.Config{URL: base, Connections: cfg.Connections, Transport: t, Name: "rclone:" + cfg.Remote})
	if err != nil {
		// A child that fails at once (an unknown remote, bad
		// credentials) may not be reaped yet when its pipe breaks.
		select {
		case <-p.done:
			err = backend.Permanent(p.gone())
		case <-time.After(2 * time.Second):
		}
		_ = t.close()
		return nil, err
	}
	return &Backend{Backend: rb, t: t}, nil
}

// Save implements backend.Backend. rclone's restic server replaces an
// existing file, not always atomically, where rest-server refuses: Save
// refuses too, so that the repository's no-replace rules hold.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if _, err := b.Backend.Stat(ctx, h); err == nil {
		return backend.Permanent(fmt.Errorf("save %v: the file exists already", h))
	} else if !errors.Is(err, backend.ErrNotExist) {
		return err
	}
	return b.Backend.Save(ctx, h, rd)
}

// Close ends the rclone process.
func (b *Backend) Close() error {
	_ = b.Backend.Close()
	return b.t.close()
}

// transport carries requests to the current rclone process, starting a
// new one when the last has died.
type transport struct {
	cfg    Config
	mu     sync.Mutex
	p      *process
	closed bool
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p, err := t.current()
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	resp, err := p.tr.RoundTrip(req)
	if err != nil && p.exited() {
		err = p.gone()
	}
	return resp, err
}

// current returns the live process, starting one if there is none.
func (t *transport) current() (*process, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("rclone backend is closed")
	}
	if t.p != nil && !t.p.exited() {
		return t.p, nil
	}
	if t.p != nil {
		t.p.stop()
	}
	p, err := start(t.cfg)
	if err != nil {
		return nil, err
	}
	t.p = p
	return p, nil
}

func (t *transport) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.p == nil {
		return nil
	}
	return t.p.stop()
}

// process is one rclone child.
type process struct {
	cmd    *exec.Cmd
	conn   *pipeConn
	tr     *http2.Transport
	stderr *tail
	done   chan struct{}
	err    error // of Wait, set before done is closed
}

// childEnv is the environment of rclone: cairn's, without the repository
// passwords.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "RESTIC_PASSWORD", "CAIRN_PASSWORD", "RESTIC_PASSWORD_COMMAND", "CAIRN_PASSWORD_COMMAND":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func start(cfg Config) (*process, error) {
	args, err := SplitArgs(cfg.Args)
	if err != nil {
		return nil, backend.Permanent(fmt.Errorf("rclone.args: %w", err))
	}
	args = append(args, cfg.Remote)
	// Pipes made here, not by exec, so that Wait does not close the ends
	// the HTTP/2 connection reads and writes.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_, _ = inR.Close(), inW.Close()
		return nil, err
	}
	p := &process{stderr: &tail{max: 4096}, done: make(chan struct{})}
	cmd := exec.Command(cfg.Program, args...)
	cmd.Env = childEnv(os.Environ())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_, _, _, _ = inR.Close(), inW.Close(), outR.Close(), outW.Close()
		return nil, backend.Permanent(fmt.Errorf("start rclone: %w", err))
	}
	_, _ = inR.Close(), outW.Close()
	p.cmd = cmd
	p.conn = &pipeConn{r: outR, w: inW}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	var once sync.Once
	p.tr = &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(context.Context, string, string, *tls.Config) (net.Conn, error) {
			var c net.Conn
			once.Do(func() { c = p.conn })
			if c == nil {
				return nil, p.gone()
			}
			return c, nil
		},
	}
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// gone is the error of requests after the process or its connection
// ended.
func (p *process) gone() error {
	msg := "rclone closed the connection"
	if p.exited() {
		msg = "rclone exited"
		if p.err != nil {
			msg += " (" + p.err.Error() + ")"
		}
	}
	if s := p.stderr.String(); s != "" {
		msg += ": " + s
	}
	return errors.New(msg)
}

// stop closes rclone's stdin, which makes it exit, and kills it if it
// has not after five seconds.
func (p *process) stop() error {
	_ = p.conn.Close()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return errors.New("rclone did not exit when its input closed; killed it")
}

// pipeConn is a net.Conn over the child's stdout and stdin.
type pipeConn struct {
	r    *os.File
	w    *os.File
	once sync.Once
}

func (c *pipeConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *pipeConn) Write(b []byte) (int, error) { return c.w.Write(b) }
func (c *pipeConn) Close() error {
	c.once.Do(func() { _, _ = c.w.Close(), c.r.Close() })
	return nil
}
func (c *pipeConn) LocalAddr() net.Addr                { return pipeAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr               { return pipeAddr{} }
func (c *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "rclone" }

// tail keeps the last max bytes written to it, as one line.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.Join(strings.Fields(string(bytes.ToValidUTF8(t.buf, []byte("?")))), " ")
	if len(s) > 400 {
		s = "..." + s[len(s)-400:]
	}
	return s
}
