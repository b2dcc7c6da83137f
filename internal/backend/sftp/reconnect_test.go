package sftp_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/retry"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// proxy forwards TCP connections to a target and can cut them all.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn // guarded by mu: both ends of every forwarded connection
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.forward(c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		wg.Wait()
	})
	return p
}

func (p *proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
	wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
	wg.Wait()
}

// cut closes every forwarded connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *proxy) port() string {
	_, port, _ := net.SplitHostPort(p.ln.Addr().String())
	return port
}

// proxyKnownHosts writes a known_hosts file naming the server's host key
// for the proxy's port.
func proxyKnownHosts(t *testing.T, s *testservers.SFTP, port string) string {
	t.Helper()
	data, err := os.ReadFile(s.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	_, key, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
	if !ok {
		t.Fatalf("unexpected known_hosts %q", data)
	}
	file := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[%s]:%s %s\n", s.Host, port, key)
	if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestReconnect(t *testing.T) {
	s := startSSHD(t)
	p := startProxy(t, net.JoinHostPort(s.Host, s.Port))
	kh := proxyKnownHosts(t, s, p.port())

	native := nativeConfig(s)
	native.Port, native.KnownHosts = p.port(), kh
	command := nativeConfig(s)
	command.Command = fmt.Sprintf("ssh -i %s -o UserKnownHostsFile=%s -o BatchMode=yes -o IdentitiesOnly=yes -p %s %s@%s -s sftp",
		s.KeyFile, kh, p.port(), s.User, s.Host)

	for _, tc := range []struct {
		name string
		cfg  sftp.Config
	}{{"native", native}, {"command", command}} {
		t.Run(tc.name, func(t *testing.T) {
			be := create(t, tc.cfg)
			defer be.Close()
			data := []byte("survives a reconnect")
			h := backend.Handle{Type: backend.SnapshotFile, Name: hashName(data)}
			if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
				t.Fatalf("Save(%v) = %v, want nil", h, err)
			}
			for round := range 2 {
				p.cut()
				// The first call may notice the loss; it must not call it
				// permanent.
				if _, err := be.Stat(t.Context(), h); err != nil {
					if backend.IsPermanent(err) {
						t.Fatalf("round %d: first Stat after losing the connection = %v, want a transient error", round, err)
					}
					t.Logf("round %d: first Stat after losing the connection = %v", round, err)
				}
				fi, err := be.Stat(t.Context(), h)
				if err != nil || fi.Size != int64(len(data)) {
					t.Fatalf("round %d: second Stat after losing the connection = %+v, %v, want size %d, nil", round, fi, err, len(data))
				}
				got, err := backend.LoadAll(t.Context(), be, h)
				if err != nil || string(got) != string(data) {
					t.Fatalf("round %d: LoadAll after reconnecting = %q, %v, want %q, nil", round, got, err, data)
				}
			}

			// Losing the connection while fn reads makes Load fail
			// transiently.
			big := make([]byte, 3<<20)
			bh := backend.Handle{Type: backend.PackFile, Name: hashName(big)}
			if err := be.Save(t.Context(), bh, backend.NewByteReader(big)); err != nil {
				t.Fatalf("Save(%v) = %v, want nil", bh, err)
			}
			err := be.Load(t.Context(), bh, 0, 0, func(rd io.Reader) error {
				if _, err := io.ReadFull(rd, make([]byte, 1000)); err != nil {
					return err
				}
				p.cut()
				_, err := io.Copy(io.Discard, rd)
				return err
			})
			if err == nil || backend.IsPermanent(err) {
				t.Errorf("Load(%v) losing the connection = %v, want a transient error", bh, err)
			}
			if _, err := backend.LoadAll(t.Context(), be, bh); err != nil {
				t.Errorf("LoadAll(%v) after reconnecting = %v, want nil", bh, err)
			}

			// With the shared retry decorator on top, callers never see
			// the loss.
			rb := retry.New(be, retry.Options{Backoff: 10 * time.Millisecond})
			p.cut()
			if _, err := backend.LoadAll(t.Context(), rb, bh); err != nil {
				t.Errorf("LoadAll(%v) through retry after losing the connection = %v, want nil", bh, err)
			}
		})
	}
}
