package sftp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// sshConfigFiles are the OpenSSH client configuration files read, in
// order; for each setting the first value found wins, as in OpenSSH. They
// are variables for tests.
var sshConfigFiles = func() []string {
	files := []string{"/etc/ssh/ssh_config"}
	if home, err := os.UserHomeDir(); err == nil {
		files = append([]string{filepath.Join(home, ".ssh", "config")}, files...)
	}
	return files
}

// withSSHConfig fills in, from the OpenSSH client configuration for
// cfg.Host, what the location and the -o options left open, so that a
// restic user's host aliases keep working with cairn's own SSH client:
// HostName, Port, User, UserKnownHostsFile and StrictHostKeyChecking. It
// returns the IdentityFile entries too, to be tried instead of the default
// keys. A host reached through ProxyJump or ProxyCommand gets an ssh
// command instead (cfg.Command), since only OpenSSH can go that way.
//
// Unreadable files, and files the parser cannot handle (it gives up on
// Match blocks), are skipped.
func withSSHConfig(cfg Config) (Config, []string) {
	if cfg.Command != "" {
		return cfg, nil
	}
	var confs []*ssh_config.Config
	for _, f := range sshConfigFiles() {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if c := safeDecode(data); c != nil {
			confs = append(confs, c)
		}
	}
	alias := cfg.Host
	get := func(key string) string {
		for _, c := range confs {
			if v := safeGet(c, alias, key); v != "" && !strings.EqualFold(v, "none") {
				return v
			}
		}
		return ""
	}
	if get("ProxyJump") != "" || get("ProxyCommand") != "" {
		cmd := "ssh " + alias
		if cfg.User != "" {
			cmd += " -l " + cfg.User
		}
		if cfg.Port != "" {
			cmd += " -p " + cfg.Port
		}
		cfg.Command = cmd + " -s sftp"
		return cfg, nil
	}
	login := cfg.User
	if login == "" {
		login = get("User")
	}
	expand := func(v string) string { return expandTokens(v, alias, login) }
	if v := get("HostName"); v != "" {
		cfg.Host = expand(v)
	}
	if cfg.Port == "" {
		cfg.Port = get("Port")
	}
	if cfg.User == "" {
		cfg.User = login
	}
	if cfg.KnownHosts == "" {
		if f := strings.Fields(get("UserKnownHostsFile")); len(f) > 0 {
			cfg.KnownHosts = expand(f[0])
		}
	}
	if cfg.HostKeyCheck == "" {
		switch strings.ToLower(get("StrictHostKeyChecking")) {
		case "accept-new":
			cfg.HostKeyCheck = HostKeyCheckAcceptNew
		case "no", "off":
			cfg.HostKeyCheck = HostKeyCheckNo
		}
	}
	var ids []string
	for _, c := range confs {
		for _, v := range safeGetAll(c, alias, "IdentityFile") {
			ids = append(ids, expand(v))
		}
	}
	return cfg, ids
}

// safeDecode parses an OpenSSH configuration, or returns nil if it cannot
// (a panic of the parser included).
func safeDecode(data []byte) (c *ssh_config.Config) {
	defer func() {
		if recover() != nil {
			c = nil
		}
	}()
	c, err := ssh_config.DecodeBytes(data)
	if err != nil {
		return nil
	}
	return c
}

// safeGet is c.Get, turning the parser's panic on Match blocks into "not
// set".
func safeGet(c *ssh_config.Config, alias, key string) (v string) {
	defer func() {
		if recover() != nil {
			v = ""
		}
	}()
	v, _ = c.Get(alias, key)
	return v
}

// safeGetAll is c.GetAll, guarded like safeGet.
func safeGetAll(c *ssh_config.Config, alias, key string) (v []string) {
	defer func() {
		if recover() != nil {
			v = nil
		}
	}()
	v, _ = c.GetAll(alias, key)
	return v
}

// expandTokens expands a leading ~ and the tokens %d (home), %h (host),
// %u and %r (user) and %% in an OpenSSH setting.
func expandTokens(v, host, login string) string {
	home, _ := os.UserHomeDir()
	if v == "~" || strings.HasPrefix(v, "~/") {
		v = home + v[1:]
	}
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 'd':
			b.WriteString(home)
		case 'h':
			b.WriteString(host)
		case 'u', 'r':
			b.WriteString(login)
		case '%':
			b.WriteByte('%')
		default:
			fmt.Fprintf(&b, "%%%c", v[i])
		}
	}
	return b.String()
}
