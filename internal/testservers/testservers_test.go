package testservers

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSSHD logs in with OpenSSH's own sftp client and stores a file.
func TestSSHD(t *testing.T) {
	s := SSHD(t)
	src := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(src, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sftp", "-i", s.KeyFile, "-o", "UserKnownHostsFile="+s.KnownHosts, "-o", "BatchMode=yes",
		"-P", s.Port, "-b", "-", s.User+"@"+s.Host)
	cmd.Stdin = strings.NewReader("put " + src + " " + s.Dir + "/hello\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v\n%s\nsshd log:\n%s", err, out, s.Server.Output())
	}
	got, err := os.ReadFile(filepath.Join(s.Dir, "hello"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("uploaded file = %q, %v; want \"hello\"", got, err)
	}
}

// TestVersitygw checks that the server is up and refuses unsigned requests.
func TestVersitygw(t *testing.T) {
	s := Versitygw(t)
	resp, err := http.Get(s.Endpoint + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned GET / answered %s, want 403", resp.Status)
	}
}
