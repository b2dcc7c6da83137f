package testservers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// sshdPath is where Debian's openssh-server puts sshd; it must be started
// by its absolute path.
const sshdPath = "/usr/sbin/sshd"

// SFTP describes a running OpenSSH server that allows one key to log in as
// the current user and serves SFTP with internal-sftp.
type SFTP struct {
	Host       string // "127.0.0.1"
	Port       string
	User       string // the current user
	Dir        string // an empty directory, absolute, for repositories
	KeyFile    string // the client's private key (ed25519, no passphrase)
	KnownHosts string // a known_hosts file holding the server's host key
	// Server is the sshd process, to read its log.
	Server interface{ Output() string }
}

// SSHCommand returns an ssh command line that opens the sftp subsystem on
// the server, as restic's -o sftp.command wants it.
func (s *SFTP) SSHCommand() string {
	return fmt.Sprintf("ssh -i %s -o UserKnownHostsFile=%s -o BatchMode=yes -o IdentitiesOnly=yes -p %s %s@%s -s sftp",
		s.KeyFile, s.KnownHosts, s.Port, s.User, s.Host)
}

// SSHD starts OpenSSH's sshd on a free loopback port with its own host key,
// client key and config, and stops it when t ends.
func SSHD(t testing.TB) *SFTP {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		unavailable(t, fmt.Errorf("sshd not installed (Debian package openssh-server): %v", err))
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		unavailable(t, fmt.Errorf("sshd needs /run/sshd: %v", err))
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"hostkey", "clientkey"} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput()
		if err != nil {
			unavailable(t, fmt.Errorf("ssh-keygen: %v: %s", err, out))
		}
	}
	clientPub, err := os.ReadFile(filepath.Join(dir, "clientkey.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), clientPub, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	hostPub, err := os.ReadFile(filepath.Join(dir, "hostkey.pub"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(hostPub))
	known := fmt.Sprintf("[%s]:%s %s %s\n", host, port, fields[0], fields[1])
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(known), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`Port %s
ListenAddress %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
MaxStartups 100
MaxSessions 100
Subsystem sftp internal-sftp
`, port, host, filepath.Join(dir, "hostkey"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, addr, sshdPath, "-D", "-e", "-f", cfgPath)
	return &SFTP{
		Host:       host,
		Port:       port,
		User:       u.Username,
		Dir:        data,
		KeyFile:    filepath.Join(dir, "clientkey"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Server:     p,
	}
}
