package sftp_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
	"github.com/cairn-backup/cairn/internal/testservers"
)

var repoCount atomic.Int64

// startSSHD starts sshd and keeps an ssh-agent of the environment out of
// the tests, so that only the keys they choose are offered.
func startSSHD(t *testing.T) *testservers.SFTP {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	return testservers.SSHD(t)
}

// nativeConfig returns a configuration for the native transport and a new
// repository directory under s.Dir.
func nativeConfig(s *testservers.SFTP) sftp.Config {
	return sftp.Config{
		User:       s.User,
		Host:       s.Host,
		Port:       s.Port,
		Path:       filepath.Join(s.Dir, fmt.Sprintf("repo%d", repoCount.Add(1))),
		KeyFile:    s.KeyFile,
		KnownHosts: s.KnownHosts,
	}
}

// commandConfig is nativeConfig using the ssh command instead.
func commandConfig(s *testservers.SFTP) sftp.Config {
	cfg := nativeConfig(s)
	cfg.Command = s.SSHCommand()
	return cfg
}

func create(t *testing.T, cfg sftp.Config) *sftp.Backend {
	t.Helper()
	be, err := sftp.Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Create(%v) = %v, want nil", cfg, err)
	}
	return be
}

func hashName(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestBackend(t *testing.T) {
	s := startSSHD(t)
	t.Run("native", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend { return create(t, nativeConfig(s)) })
	})
	t.Run("command", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend { return create(t, commandConfig(s)) })
	})
}

func BenchmarkBackend(b *testing.B) {
	b.Setenv("SSH_AUTH_SOCK", "")
	s := testservers.SSHD(b)
	backendtest.Bench(b, func(b *testing.B) backend.Backend {
		be, err := sftp.Create(b.Context(), nativeConfig(s))
		if err != nil {
			b.Fatalf("Create = %v, want nil", err)
		}
		b.Cleanup(func() { _ = be.Close() })
		return be
	})
}

func TestCreateOpen(t *testing.T) {
	s := startSSHD(t)
	cfg := nativeConfig(s)

	if _, err := sftp.Open(t.Context(), cfg); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Open(%v) of a missing repository = %v, want ErrNotExist", cfg, err)
	}

	be := create(t, cfg)
	defer be.Close()
	for _, d := range []string{"keys", "locks", "snapshots", "index", "data/00", "data/7f", "data/ff"} {
		fi, err := os.Stat(filepath.Join(cfg.Path, d))
		if err != nil || !fi.IsDir() {
			t.Errorf("after Create, Stat(%s) = %v, want a directory", d, err)
		}
	}
	if p := be.Properties(); p.Connections != sftp.DefaultConnections || !p.HasAtomicReplace {
		t.Errorf("Properties() = %+v, want %d connections and atomic replace", p, sftp.DefaultConnections)
	}

	data := []byte("some pack")
	h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save(%v) = %v, want nil", h, err)
	}
	fi, err := os.Stat(filepath.Join(cfg.Path, "data", h.Name[:2], h.Name))
	if err != nil {
		t.Fatalf("saved pack not in data/%s: %v", h.Name[:2], err)
	}
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("saved pack has mode %v, want 0400", fi.Mode().Perm())
	}

	// A data/xx directory removed behind our back is made again.
	data2 := []byte("another pack")
	h2 := backend.Handle{Type: backend.PackFile, Name: hashName(data2)}
	if err := os.RemoveAll(filepath.Join(cfg.Path, "data", h2.Name[:2])); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(t.Context(), h2, backend.NewByteReader(data2)); err != nil {
		t.Fatalf("Save(%v) without its directory = %v, want nil", h2, err)
	}

	// Temporary files left by a crashed writer are not listed.
	junk := filepath.Join(cfg.Path, "data", h.Name[:2], h.Name+".cairn-tmp-0123")
	if err := os.WriteFile(junk, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := be.List(t.Context(), backend.PackFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatalf("List(data) = %v, want nil", err)
	}
	if len(names) != 2 {
		t.Errorf("List(data) = %q, want the two saved packs", names)
	}

	config := []byte("config")
	if err := be.Save(t.Context(), backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader(config)); err != nil {
		t.Fatalf("Save(config) = %v, want nil", err)
	}
	if _, err := sftp.Create(t.Context(), cfg); err == nil || !backend.IsPermanent(err) {
		t.Errorf("Create(%v) over a repository = %v, want a permanent error", cfg, err)
	}
	be2, err := sftp.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open(%v) = %v, want nil", cfg, err)
	}
	defer be2.Close()
	got, err := backend.LoadAll(t.Context(), be2, backend.Handle{Type: backend.ConfigFile})
	if err != nil || !bytes.Equal(got, config) {
		t.Errorf("LoadAll(config) = %q, %v, want %q, nil", got, err, config)
	}

	if err := be.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if _, err := be.Stat(t.Context(), h); !backend.IsPermanent(err) {
		t.Errorf("Stat after Close = %v, want a permanent error", err)
	}
}

func TestRelativePath(t *testing.T) {
	s := startSSHD(t)
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	rel, err := filepath.Rel(home, filepath.Join(s.Dir, "relrepo"))
	if err != nil || filepath.IsAbs(rel) {
		t.Skipf("%s is not reachable relative to %s", s.Dir, home)
	}
	loc := fmt.Sprintf("sftp://%s@%s:%s/%s", s.User, s.Host, s.Port, rel)
	cfg, err := sftp.ParseConfig(loc)
	if err != nil {
		t.Fatalf("ParseConfig(%q) = %v, want nil", loc, err)
	}
	cfg.KeyFile, cfg.KnownHosts = s.KeyFile, s.KnownHosts
	be := create(t, cfg)
	defer be.Close()
	if _, err := os.Stat(filepath.Join(s.Dir, "relrepo", "data", "ab")); err != nil {
		t.Errorf("Create(%q) did not make the repository relative to the login directory: %v", loc, err)
	}
}

func TestCommandFails(t *testing.T) {
	cfg := sftp.Config{Host: "example.invalid", Path: "/repo", Command: "sh -c 'exit 3'"}
	_, err := sftp.Open(t.Context(), cfg)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("exit status 3")) {
		t.Errorf("Open with a failing command = %v, want an error with its exit status", err)
	}
	cfg.Command = "/nonexistent/ssh host"
	if _, err := sftp.Open(t.Context(), cfg); !backend.IsPermanent(err) {
		t.Errorf("Open with a missing command = %v, want a permanent error", err)
	}
}

// TestLoadReaderHasNoWriteTo guards a latency trap: a reader with WriteTo
// (bufio.Reader's) lets io.Copy into a file or a hash bypass the buffer
// and read in 8 KiB pieces, one round trip each. Small and large ranges
// go through different paths; neither may offer WriteTo.
func TestLoadReaderHasNoWriteTo(t *testing.T) {
	s := startSSHD(t)
	be := create(t, nativeConfig(s))
	defer func() { _ = be.Close() }()
	data := bytes.Repeat([]byte("x"), 3<<20)
	h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	for _, length := range []int{1000, 0} {
		err := be.Load(t.Context(), h, length, 0, func(rd io.Reader) error {
			if _, ok := rd.(io.WriterTo); ok {
				t.Errorf("Load(length %d) hands fn a %T, which has WriteTo", length, rd)
			}
			n, err := io.Copy(io.Discard, rd)
			if want := int64(length); length > 0 && n != want || length == 0 && n != int64(len(data)) {
				t.Errorf("Load(length %d) delivered %d bytes", length, n)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
