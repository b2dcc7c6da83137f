package sftp_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
)

func TestUnknownHost(t *testing.T) {
	s := startSSHD(t)
	cfg := nativeConfig(s)
	cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(cfg.KnownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sftp.Create(t.Context(), cfg)
	if err == nil || !backend.IsPermanent(err) {
		t.Fatalf("Create with an empty known_hosts = %v, want a permanent error", err)
	}
	for _, want := range []string{"unknown", cfg.KnownHosts, "ssh-keyscan -p " + s.Port, "accept-new"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Create with an empty known_hosts = %q, want it to mention %q", err, want)
		}
	}
}

func TestAcceptNew(t *testing.T) {
	s := startSSHD(t)
	cfg := nativeConfig(s)
	cfg.KnownHosts = filepath.Join(t.TempDir(), "sub", "known_hosts") // neither exists
	cfg.HostKeyCheck = sftp.HostKeyCheckAcceptNew
	be := create(t, cfg)
	if err := be.Save(t.Context(), backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader([]byte("c"))); err != nil {
		t.Fatalf("Save(config) = %v, want nil", err)
	}
	_ = be.Close()

	data, err := os.ReadFile(cfg.KnownHosts)
	if err != nil {
		t.Fatalf("accept-new did not write known_hosts: %v", err)
	}
	if want := fmt.Sprintf("[%s]:%s ssh-ed25519 ", s.Host, s.Port); !strings.HasPrefix(string(data), want) {
		t.Errorf("known_hosts = %q, want a line starting with %q", data, want)
	}
	if fi, err := os.Stat(cfg.KnownHosts); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode = %v, %v, want 0600", fi.Mode().Perm(), err)
	}

	cfg.HostKeyCheck = sftp.HostKeyCheckYes
	be, err = sftp.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open in yes mode after accept-new = %v, want nil", err)
	}
	_ = be.Close()
	if after, _ := os.ReadFile(cfg.KnownHosts); string(after) != string(data) {
		t.Errorf("known_hosts changed on the second connection: %q", after)
	}
}

func TestChangedHostKey(t *testing.T) {
	s := startSSHD(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Host + ":" + s.Port)}, other)
	for _, mode := range []string{sftp.HostKeyCheckYes, sftp.HostKeyCheckAcceptNew} {
		t.Run(mode, func(t *testing.T) {
			cfg := nativeConfig(s)
			cfg.HostKeyCheck = mode
			cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(cfg.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := sftp.Create(t.Context(), cfg)
			if err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), "changed") {
				t.Errorf("Create with a changed host key = %v, want a permanent error about a changed key", err)
			}
		})
	}
	t.Run("no", func(t *testing.T) {
		cfg := nativeConfig(s)
		cfg.HostKeyCheck = sftp.HostKeyCheckNo
		cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(cfg.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		be := create(t, cfg)
		_ = be.Close()
	})
}

// writeKey writes a new ed25519 private key in OpenSSH format, encrypted
// when passphrase is not empty, and returns its file name.
func writeKey(t *testing.T, passphrase string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestWrongKey(t *testing.T) {
	s := startSSHD(t)
	cfg := nativeConfig(s)
	cfg.KeyFile = writeKey(t, "")
	_, err := sftp.Create(t.Context(), cfg)
	if err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), "authenticating as "+s.User) {
		t.Errorf("Create with a key the server does not know = %v, want a permanent authentication error", err)
	}
}

func TestKeyFileProblems(t *testing.T) {
	s := startSSHD(t)
	tests := []struct {
		name, keyFile, want string
	}{
		{"passphrase", writeKey(t, "secret"), "passphrase"},
		{"missing", filepath.Join(t.TempDir(), "nokey"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := nativeConfig(s)
			cfg.KeyFile = tt.keyFile
			_, err := sftp.Create(t.Context(), cfg)
			if err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Create with key file %s = %v, want a permanent error mentioning %q", tt.keyFile, err, tt.want)
			}
		})
	}
}
