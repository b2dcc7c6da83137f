package sftp

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestHostKeyAlgorithms checks that only the key types known_hosts lists
// for a host are offered, so that the server does not pick another.
func TestHostKeyAlgorithms(t *testing.T) {
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := ssh.NewPublicKey(edPub)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "known_hosts")
	lines := knownhosts.Line([]string{"[10.0.0.1]:2222"}, rs) + "\n" +
		knownhosts.Line([]string{"10.0.0.1"}, ed) + "\n" +
		knownhosts.Line([]string{"example.org"}, ed) + "\n" +
		knownhosts.Line([]string{"example.org"}, rs) + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	hk, err := newHostKeys(Config{KnownHosts: file})
	if err != nil {
		t.Fatal(err)
	}
	rsaAlgos := []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	tests := []struct {
		addr string
		want []string
	}{
		{"10.0.0.1:2222", rsaAlgos},
		{"10.0.0.1:22", []string{ssh.KeyAlgoED25519}},
		{"example.org:22", append([]string{ssh.KeyAlgoED25519}, rsaAlgos...)},
		{"unknown.example:22", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, hk.algorithms(tt.addr)); diff != "" {
			t.Errorf("algorithms(%q) mismatch (-want +got):\n%s", tt.addr, diff)
		}
	}
}
