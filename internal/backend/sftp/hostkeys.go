package sftp

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cairn-backup/cairn/internal/backend"
)

// hostKeys checks a server's host key against a known_hosts file, as
// OpenSSH's StrictHostKeyChecking does.
type hostKeys struct {
	mode string // a HostKeyCheck* value, never empty
	file string // the known_hosts file
	// db checks keys against file; nil when file does not exist.
	db ssh.HostKeyCallback

	mu  sync.Mutex
	err error // guarded by mu: why the callback refused a key
}

// newHostKeys reads the known_hosts file cfg names. A missing file counts
// as empty; a file that cannot be read or parsed is a Permanent error.
func newHostKeys(cfg Config) (*hostKeys, error) {
	hk := &hostKeys{mode: cfg.HostKeyCheck}
	if hk.mode == "" {
		hk.mode = HostKeyCheckYes
	}
	switch hk.mode {
	case HostKeyCheckNo:
		return hk, nil
	case HostKeyCheckYes, HostKeyCheckAcceptNew:
	default:
		return nil, backend.Permanent(fmt.Errorf("sftp: invalid host key checking mode %q (want yes, accept-new or no)", hk.mode))
	}
	hk.file = cfg.KnownHosts
	if hk.file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, backend.Permanent(fmt.Errorf("sftp: no known_hosts file: %w", err))
		}
		hk.file = filepath.Join(home, ".ssh", "known_hosts")
	}
	hk.file = expandHome(hk.file)
	db, err := knownhosts.New(hk.file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, backend.Permanent(fmt.Errorf("sftp: read known hosts: %w", err))
	default:
		hk.db = db
	}
	return hk, nil
}

// placeholderAddr stands in for the server's address when asking the
// database about a host name: it checks only the name then.
var placeholderAddr net.Addr = &net.TCPAddr{IP: net.IPv4zero}

// algorithms returns the host key algorithms to offer for addr: those of
// the key types known_hosts lists for it, so that the server does not pick
// a key type we cannot check. nil means the defaults.
func (hk *hostKeys) algorithms(addr string) []string {
	if hk.db == nil {
		return nil
	}
	// Asking about a key no host has makes the database list the keys it
	// knows for addr.
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := hk.db(addr, placeholderAddr, probe); !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	seen := make(map[string]bool)
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor maps a key type to the signature algorithms that use it.
func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

// callback is the ssh.HostKeyCallback. A refusal is also kept for err.
func (hk *hostKeys) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := hk.check(hostname, remote, key)
	if err != nil {
		hk.mu.Lock()
		hk.err = err
		hk.mu.Unlock()
	}
	return err
}

// refusal returns the error of a refused host key, or nil.
func (hk *hostKeys) refusal() error {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	return hk.err
}

func (hk *hostKeys) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	if hk.mode == HostKeyCheckNo {
		return nil
	}
	host := knownhosts.Normalize(hostname)
	if hk.db != nil {
		err := hk.db(hostname, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re):
			return backend.Permanent(fmt.Errorf("sftp: host key of %s is revoked in %s:%d", host, re.Revoked.Filename, re.Revoked.Line))
		case errors.As(err, &ke) && len(ke.Want) > 0:
			w := ke.Want[0]
			return backend.Permanent(fmt.Errorf("sftp: host key of %s changed: server sent %s %s, but %s:%d has a different key "+
				"(someone may be intercepting the connection; if the change is expected, remove that line)",
				host, key.Type(), ssh.FingerprintSHA256(key), w.Filename, w.Line))
		case errors.As(err, &ke):
			// Unknown host: handled below.
		default:
			return backend.Permanent(fmt.Errorf("sftp: check host key of %s: %w", host, err))
		}
	}
	if hk.mode == HostKeyCheckAcceptNew {
		if err := appendKnownHost(hk.file, hostname, key); err != nil {
			return backend.Permanent(fmt.Errorf("sftp: add host key of %s to %s: %w", host, hk.file, err))
		}
		return nil
	}
	h, port, err := net.SplitHostPort(hostname)
	if err != nil {
		h, port = hostname, "22"
	}
	return backend.Permanent(fmt.Errorf("sftp: host %s is unknown: its %s key %s is not in %s; "+
		"add it with `ssh-keyscan -p %s %s >> %s` after checking the fingerprint, "+
		"or use -o sftp.strict-host-key-checking=accept-new",
		host, key.Type(), ssh.FingerprintSHA256(key), hk.file, port, h, hk.file))
}

// appendKnownHost adds a line for key to the known_hosts file, creating
// the file (mode 0600) and its directory if needed.
func appendKnownHost(file, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	// Start on a new line if the file does not end with one.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// expandHome replaces a leading "~/" with the home directory.
func expandHome(p string) string {
	if rest, ok := cutHomePrefix(p); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

func cutHomePrefix(p string) (string, bool) {
	if p == "~" {
		return "", true
	}
	if len(p) >= 2 && p[0] == '~' && p[1] == '/' {
		return p[2:], true
	}
	return "", false
}
