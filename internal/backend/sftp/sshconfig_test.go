package sftp_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
)

// TestSSHConfigAlias: a host alias from ~/.ssh/config (HostName, Port,
// User, IdentityFile, UserKnownHostsFile) works with cairn's own SSH
// client, as it does with restic's ssh command.
func TestSSHConfigAlias(t *testing.T) {
	s := startSSHD(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`# a restic user's config
Host other
    HostName 192.0.2.1

Host backuphost
    HostName %s
    Port %s
    User %s
    IdentityFile %s
    UserKnownHostsFile %s

Host *
    ServerAliveInterval 60
`, s.Host, s.Port, s.User, s.KeyFile, s.KnownHosts)
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := sftp.ParseConfig("sftp:backuphost:" + filepath.Join(s.Dir, "aliased"))
	if err != nil {
		t.Fatal(err)
	}
	be := create(t, cfg)
	defer func() { _ = be.Close() }()
	data := []byte("through an alias")
	h := backend.Handle{Type: backend.SnapshotFile, Name: hashName(data)}
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save = %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "aliased", "snapshots", h.Name)); err != nil {
		t.Errorf("the file is not in the aliased repository: %v", err)
	}

	// A Match block, which the config parser cannot handle, must not
	// crash anything: the config is then ignored and the alias unknown.
	conf = "Match host backuphost\n    User nobody\n" + conf
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if be, err := sftp.Open(t.Context(), cfg); err == nil {
		_ = be.Close()
		t.Fatal("Open worked although the config with a Match block should have been ignored")
	}
}
