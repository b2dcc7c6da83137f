package sftp

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// DefaultConnections is how many operations a backend runs at once unless
// Config.Connections says otherwise.
const DefaultConnections = 5

// Host key checking modes, the values of Config.HostKeyCheck.
const (
	HostKeyCheckYes       = "yes"        // only hosts known_hosts lists (default)
	HostKeyCheckAcceptNew = "accept-new" // add unknown hosts to known_hosts
	HostKeyCheckNo        = "no"         // accept any host key
)

// Config is the parsed form of an sftp: location plus the sftp.* options.
type Config struct {
	// User is the login name; empty means the current user.
	User string
	// Host is a host name or IP address, without brackets.
	Host string
	// Port is the SSH port; empty means 22.
	Port string
	// Path is the repository directory: absolute, or relative to the
	// login directory.
	Path string
	// Command, when set, is run instead of dialling: its stdin and stdout
	// carry the SFTP protocol (e.g. "ssh host -s sftp"). User, Host and
	// Port are then used only in messages.
	Command string
	// KeyFile is a private key to authenticate with; empty means the
	// default keys in ~/.ssh.
	KeyFile string
	// KnownHosts is the known_hosts file; empty means ~/.ssh/known_hosts.
	KnownHosts string
	// HostKeyCheck is HostKeyCheckYes (also when empty),
	// HostKeyCheckAcceptNew or HostKeyCheckNo.
	HostKeyCheck string
	// Connections limits concurrent operations; 0 means DefaultConnections.
	Connections int
}

// ParseConfig parses a location in one of restic's forms:
//
//	sftp:[user@]host:path            path absolute or relative to the login dir
//	sftp:[user@][ipv6]:path
//	sftp://[user@]host[:port]/path   "/path" relative, "//path" absolute
//
// It does not fill in the default user or port.
func ParseConfig(location string) (Config, error) {
	var (
		cfg Config
		err error
	)
	if rest, ok := strings.CutPrefix(location, "sftp://"); ok {
		cfg, err = parseURL(rest)
	} else if rest, ok := strings.CutPrefix(location, "sftp:"); ok {
		cfg, err = parseSCP(rest)
	} else {
		err = errors.New("no sftp: prefix")
	}
	if err != nil {
		return Config{}, fmt.Errorf("invalid sftp location %q: %w", location, err)
	}
	if err := checkHost(cfg.Host); err != nil {
		return Config{}, fmt.Errorf("invalid sftp location %q: %w", location, err)
	}
	if cfg.Path == "" {
		return Config{}, fmt.Errorf("invalid sftp location %q: no path", location)
	}
	cfg.Path = path.Clean(cfg.Path)
	return cfg, nil
}

// parseURL parses what follows "sftp://".
func parseURL(rest string) (Config, error) {
	u, err := url.Parse("sftp://" + rest)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return Config{}, err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Config{}, errors.New("query and fragment are not allowed")
	}
	var cfg Config
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return Config{}, errors.New("passwords are not supported, use a key")
		}
		cfg.User = u.User.Username()
	}
	cfg.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("invalid port %q", p)
		}
		cfg.Port = p
	}
	// The first "/" separates host and path: "/repo" is relative to the
	// login directory and "//srv/repo" is absolute.
	cfg.Path = strings.TrimPrefix(u.Path, "/")
	return cfg, nil
}

// parseSCP parses what follows "sftp:" in the scp-like form.
func parseSCP(rest string) (Config, error) {
	var cfg Config
	// A user name ends at the last "@" before the host, which starts
	// before the first ":" or "[".
	if i := strings.IndexAny(rest, ":["); i >= 0 {
		if at := strings.LastIndex(rest[:i], "@"); at >= 0 {
			cfg.User, rest = rest[:at], rest[at+1:]
			if cfg.User == "" {
				return Config{}, errors.New("empty user name")
			}
		}
	}
	if after, ok := strings.CutPrefix(rest, "["); ok {
		host, tail, ok := strings.Cut(after, "]")
		if !ok {
			return Config{}, errors.New("missing ] after IPv6 address")
		}
		p, ok := strings.CutPrefix(tail, ":")
		if !ok {
			return Config{}, errors.New("missing : between host and path")
		}
		cfg.Host, cfg.Path = host, p
		return cfg, nil
	}
	host, p, ok := strings.Cut(rest, ":")
	if !ok {
		return Config{}, errors.New("missing : between host and path")
	}
	cfg.Host, cfg.Path = host, p
	return cfg, nil
}

func checkHost(host string) error {
	if host == "" {
		return errors.New("no host")
	}
	if strings.ContainsAny(host, "/@[] \t\n") {
		return fmt.Errorf("invalid host %q", host)
	}
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("invalid IPv6 address %q", host)
		}
	}
	return nil
}

// SetOption applies one -o option; key is without the "sftp." prefix:
// "command", "key", "known-hosts", "strict-host-key-checking" (yes,
// accept-new or no) or "connections" (a positive number). An unknown key
// or a bad value is an error.
func (c *Config) SetOption(key, value string) error {
	switch key {
	case "command":
		if _, err := splitCommand(value); err != nil {
			return fmt.Errorf("option sftp.command: %w", err)
		}
		c.Command = value
	case "key":
		if value == "" {
			return errors.New("option sftp.key: empty file name")
		}
		c.KeyFile = value
	case "known-hosts":
		if value == "" {
			return errors.New("option sftp.known-hosts: empty file name")
		}
		c.KnownHosts = value
	case "strict-host-key-checking":
		switch value {
		case HostKeyCheckYes, HostKeyCheckAcceptNew, HostKeyCheckNo:
			c.HostKeyCheck = value
		default:
			return fmt.Errorf("option sftp.strict-host-key-checking: invalid value %q (want yes, accept-new or no)", value)
		}
	case "connections":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return fmt.Errorf("option sftp.connections: invalid value %q (want a positive number)", value)
		}
		c.Connections = n
	default:
		return fmt.Errorf("unknown option sftp.%s", key)
	}
	return nil
}

// String returns the location in the form ParseConfig reads, for
// messages.
func (c Config) String() string {
	user := ""
	if c.User != "" {
		user = c.User + "@"
	}
	host := c.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if c.Port != "" {
		// The path follows the first "/": "//abs" or "/relative".
		return "sftp://" + user + host + ":" + c.Port + "/" + c.Path
	}
	return "sftp:" + user + host + ":" + c.Path
}

// OptionHelp describes each option SetOption takes, for `cairn options`.
var OptionHelp = map[string]string{
	"command":                  "command that starts the SFTP connection instead of ssh (its output is the SFTP stream)",
	"key":                      "private key file to log in with",
	"known-hosts":              "known_hosts file to check the server's host key against",
	"strict-host-key-checking": "host key policy: yes, accept-new or no (default: as ssh's configuration)",
	"connections":              fmt.Sprintf("set a limit for the number of concurrent operations (default: %d)", DefaultConnections),
}
