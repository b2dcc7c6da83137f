package sftp_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/faulty"
	"github.com/cairn-backup/cairn/internal/backend/retry"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// startProxy puts a proxy that can drop every connection in front of
// target.
func startProxy(t *testing.T, target string) *faulty.Proxy {
	t.Helper()
	p, err := faulty.NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// proxyPort is the port the proxy listens on.
func proxyPort(p *faulty.Proxy) string {
	_, port, _ := net.SplitHostPort(p.Addr())
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
	kh := proxyKnownHosts(t, s, proxyPort(p))

	native := nativeConfig(s)
	native.Port, native.KnownHosts = proxyPort(p), kh
	command := nativeConfig(s)
	command.Command = fmt.Sprintf("ssh -i %s -o UserKnownHostsFile=%s -o BatchMode=yes -o IdentitiesOnly=yes -p %s %s@%s -s sftp",
		s.KeyFile, kh, proxyPort(p), s.User, s.Host)

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
				p.DropAll()
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
				p.DropAll()
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
			p.DropAll()
			if _, err := backend.LoadAll(t.Context(), rb, bh); err != nil {
				t.Errorf("LoadAll(%v) through retry after losing the connection = %v, want nil", bh, err)
			}
		})
	}
}

// TestOrphanedTempFileRemoved: a save cut off with its connection leaves
// its temporary file on the server; the backend removes it once it has
// reconnected.
func TestOrphanedTempFileRemoved(t *testing.T) {
	s := startSSHD(t)
	p := startProxy(t, net.JoinHostPort(s.Host, s.Port))
	p.SetLatency(20 * time.Millisecond) // so that the cut comes mid-upload
	cfg := nativeConfig(s)
	cfg.Port, cfg.KnownHosts = proxyPort(p), proxyKnownHosts(t, s, proxyPort(p))
	be := create(t, cfg)
	defer be.Close()

	big := make([]byte, 32<<20)
	h := backend.Handle{Type: backend.PackFile, Name: hashName(big)}
	dir := filepath.Join(cfg.Path, "data", h.Name[:2])
	tmps := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "*.cairn-tmp-*"))
		return m
	}
	done := make(chan error, 1)
	go func() { done <- be.Save(t.Context(), h, backend.NewByteReader(big)) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(tmps()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(tmps()) == 0 {
		t.Fatal("the save never created its temporary file")
	}
	time.Sleep(100 * time.Millisecond) // into the upload
	p.DropAll()
	if err := <-done; err == nil {
		t.Fatal("Save succeeded although its connection was cut")
	}
	if len(tmps()) == 0 {
		t.Fatal("no temporary file was left; the test tests nothing")
	}
	// The first call may notice the loss; the second reconnects.
	_, _ = be.Stat(t.Context(), backend.Handle{Type: backend.ConfigFile})
	if _, err := be.Stat(t.Context(), backend.Handle{Type: backend.ConfigFile}); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat(config) after reconnecting = %v, want ErrNotExist", err)
	}
	if left := tmps(); len(left) != 0 {
		t.Errorf("temporary files left after reconnecting: %v", left)
	}
}
