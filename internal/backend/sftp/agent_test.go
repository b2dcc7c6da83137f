package sftp_test

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
)

// TestAgentKey logs in with a key that only a real ssh-agent holds: no
// -o sftp.key, and a home directory without keys.
func TestAgentKey(t *testing.T) {
	s := startSSHD(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("start ssh-agent: %v", err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	t.Setenv("SSH_AUTH_SOCK", sock)
	t.Setenv("HOME", t.TempDir())
	var out []byte
	var err error
	for range 50 { // the agent needs a moment to listen
		add := exec.Command("ssh-add", s.KeyFile)
		if out, err = add.CombinedOutput(); err == nil {
			break
		}
		waitABit()
	}
	if err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}

	cfg := nativeConfig(s)
	cfg.KeyFile = ""
	be := create(t, cfg)
	defer func() { _ = be.Close() }()
	data := []byte("via the agent")
	h := backend.Handle{Type: backend.SnapshotFile, Name: hashName(data)}
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save = %v", err)
	}

	// Without the agent the same login fails, permanently.
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := sftp.Open(t.Context(), cfg); err == nil || !backend.IsPermanent(err) {
		t.Fatalf("Open without agent or key = %v, want a permanent authentication error", err)
	}
}

func waitABit() { time.Sleep(20 * time.Millisecond) }
