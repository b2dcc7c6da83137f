package sftp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cairn-backup/cairn/internal/backend"
)

const (
	// dialTimeout bounds connecting and the SSH handshake.
	dialTimeout = 30 * time.Second
	// keepAliveInterval is how often an idle connection is probed; a
	// connection that does not answer within another interval is closed,
	// so that calls waiting on it fail instead of hanging.
	keepAliveInterval = 30 * time.Second
)

// defaultKeys are the key files in ~/.ssh tried when no key is configured.
var defaultKeys = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// dialSSH connects to cfg's host with golang.org/x/crypto/ssh and starts an
// SFTP session. ids are key files from the OpenSSH configuration, tried
// instead of the default keys. A refused host key and failed
// authentication are Permanent errors; network failures are transient.
func dialSSH(ctx context.Context, cfg Config, ids []string) (*session, error) {
	login := cfg.User
	if login == "" {
		login = currentUser()
	}
	port := cfg.Port
	if port == "" {
		port = "22"
	}
	addr := net.JoinHostPort(cfg.Host, port)

	hk, err := newHostKeys(cfg)
	if err != nil {
		return nil, err
	}
	signers, closeAgent, err := loadSigners(cfg, ids)
	if err != nil {
		return nil, err
	}
	defer closeAgent() // signing is over once the handshake is
	if len(signers) == 0 {
		return nil, backend.Permanent(fmt.Errorf("sftp: no SSH key to log in to %s with: "+
			"no ssh-agent keys and no ~/.ssh/id_ed25519, id_ecdsa or id_rsa; use -o sftp.key=FILE", addr))
	}
	sshCfg := &ssh.ClientConfig{
		User:              login,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms(addr),
		Timeout:           dialTimeout,
	}

	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sftp: connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing the connection aborts a handshake that ctx cancels.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, sshCfg)
	if err != nil {
		stop()
		_ = conn.Close()
		switch {
		case hk.refusal() != nil:
			return nil, hk.refusal()
		case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, ctx.Err()
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, backend.Permanent(fmt.Errorf("sftp: authenticating as %s@%s failed: %v", login, addr, err))
		}
		return nil, fmt.Errorf("sftp: SSH handshake with %s: %w", addr, err)
	}
	client := ssh.NewClient(c, chans, reqs)
	sc, err := sftp.NewClient(client, clientOptions()...)
	if !stop() || err != nil {
		_ = client.Close()
		if err == nil {
			_ = sc.Close()
			return nil, ctx.Err()
		}
		if strings.Contains(err.Error(), "subsystem request failed") {
			return nil, backend.Permanent(fmt.Errorf("sftp: %s does not offer the sftp subsystem: %w", addr, err))
		}
		return nil, fmt.Errorf("sftp: start session on %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	// More channels on the same connection, one per allowed concurrent
	// operation: each brings its own flow-control window. Whatever the
	// server refuses beyond the first is simply not used.
	clients := []*sftp.Client{sc}
	for len(clients) < channels(cfg) {
		more, err := sftp.NewClient(client, clientOptions()...)
		if err != nil {
			break
		}
		clients = append(clients, more)
	}
	s := newSession(clients, func() error {
		// The SSH connection first: closing an SFTP client waits for
		// its reader, which a hung connection would never end.
		_ = client.Close()
		for _, c := range clients {
			_ = c.Close()
		}
		return nil
	})
	go keepAlive(client, s.dead)
	return s, nil
}

// channels is how many SFTP channels a connection opens: one per allowed
// concurrent operation.
func channels(cfg Config) int {
	if cfg.Connections > 0 {
		return cfg.Connections
	}
	return DefaultConnections
}

// keepAlive probes client until dead is closed and closes it when a probe
// goes unanswered.
func keepAlive(client *ssh.Client, dead <-chan struct{}) {
	tick := time.NewTicker(keepAliveInterval)
	defer tick.Stop()
	for {
		select {
		case <-dead:
			return
		case <-tick.C:
		}
		answered := make(chan struct{})
		go func() {
			_, _, _ = client.SendRequest("keepalive@openssh.com", true, nil)
			close(answered)
		}()
		t := time.NewTimer(keepAliveInterval)
		select {
		case <-answered:
		case <-dead:
		case <-t.C:
			_ = client.Close()
		}
		t.Stop()
	}
}

// loadSigners returns the keys to offer: the configured key file, then the
// agent's keys, then (without a configured key) the key files ids from the
// OpenSSH configuration or else the default key files, each once. Keys
// from those files that cannot be used (missing, passphrase-protected) are
// skipped; a configured key that cannot be used is a Permanent error.
// closeAgent releases the agent connection.
func loadSigners(cfg Config, ids []string) (signers []ssh.Signer, closeAgent func(), err error) {
	closeAgent = func() {}
	seen := make(map[string]bool)
	add := func(ss ...ssh.Signer) {
		for _, s := range ss {
			k := string(s.PublicKey().Marshal())
			if !seen[k] {
				seen[k] = true
				signers = append(signers, s)
			}
		}
	}
	if cfg.KeyFile != "" {
		file := expandHome(cfg.KeyFile)
		s, err := readKey(file)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			return nil, closeAgent, backend.Permanent(fmt.Errorf(
				"sftp: key file %s is protected by a passphrase; load it into ssh-agent with ssh-add instead", file))
		case err != nil:
			return nil, closeAgent, backend.Permanent(fmt.Errorf("sftp: key file: %w", err))
		}
		add(s)
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.DialTimeout("unix", sock, 5*time.Second); err == nil {
			closeAgent = func() { _ = conn.Close() }
			if ss, err := agent.NewClient(conn).Signers(); err == nil {
				add(ss...)
			}
		}
	}
	if cfg.KeyFile == "" {
		files := ids
		if home, err := os.UserHomeDir(); err == nil && len(files) == 0 {
			for _, name := range defaultKeys {
				files = append(files, filepath.Join(home, ".ssh", name))
			}
		}
		for _, f := range files {
			if s, err := readKey(f); err == nil {
				add(s)
			}
		}
	}
	return signers, closeAgent, nil
}

// readKey parses an unencrypted private key file.
func readKey(file string) (ssh.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(bytes.TrimSpace(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

// currentUser returns the login name of the current user.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
