package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Config is the parsed form of a rest: location.
type Config struct {
	// URL is the repository's base URL, always ending in "/". It may carry
	// user info from the location.
	URL *url.URL
	// Connections limits concurrent requests; 0 means the default (5).
	Connections int
	// Transport carries the requests; nil means a clone of
	// http.DefaultTransport. A custom CA (--cacert) comes in this way.
	Transport http.RoundTripper
	// Name, if set, names the repository in messages instead of URL (the
	// rclone backend's "rclone:remote:path").
	Name string
}

// SetOption applies one -o option, its key without the "rest." prefix.
// The only one is "connections".
func (c *Config) SetOption(key, value string) error {
	switch key {
	case "connections":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 128 {
			return fmt.Errorf("invalid option rest.connections=%q: want a number from 1 to 128", value)
		}
		c.Connections = n
		return nil
	}
	return fmt.Errorf("unknown option rest.%s (rest has: connections)", key)
}

// DefaultConnections is the number of concurrent requests a backend allows
// unless Config.Connections says otherwise.
const DefaultConnections = 5

// ParseConfig parses a location of the form
// rest:http[s]://[user:pass@]host:port/[path].
func ParseConfig(location string) (Config, error) {
	rest, ok := strings.CutPrefix(location, "rest:")
	if !ok {
		return Config{}, fmt.Errorf("invalid rest location %q: no rest: prefix", StripPassword(location))
	}
	u, err := url.Parse(rest)
	if err != nil {
		return Config{}, fmt.Errorf("invalid rest location %q: %w", StripPassword(location), stripURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Config{}, fmt.Errorf("invalid rest location %q: scheme must be http or https", StripPassword(location))
	}
	if u.Host == "" {
		return Config{}, fmt.Errorf("invalid rest location %q: no host", StripPassword(location))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("invalid rest location %q: query and fragment are not allowed", StripPassword(location))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return Config{URL: u}, nil
}

// stripURLError drops the URL from a url.Error, since it may hold a
// password.
func stripURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// StripPassword returns location with any password in it replaced by
// "***", for messages and logs.
func StripPassword(location string) string {
	prefix := ""
	rest := location
	if r, ok := strings.CutPrefix(location, "rest:"); ok {
		prefix, rest = "rest:", r
	}
	u, err := url.Parse(rest)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(rest, "@") {
			// Unparseable, but may hold credentials: hide everything
			// between the scheme and the host.
			scheme, after, ok := strings.Cut(rest, "://")
			if ok {
				if i := strings.LastIndex(after, "@"); i >= 0 {
					return prefix + scheme + "://***@" + after[i+1:]
				}
			}
		}
		return location
	}
	if _, has := u.User.Password(); has {
		// url.URL would escape "***"; put it in after formatting.
		const mark = "cairnpasswordmark"
		u.User = url.UserPassword(u.User.Username(), mark)
		return prefix + strings.Replace(u.String(), ":"+mark+"@", ":***@", 1)
	}
	return prefix + u.String()
}

// credentials returns the basic-auth user and password to use: those in the
// URL, else CAIRN_REST_USERNAME/CAIRN_REST_PASSWORD, else
// RESTIC_REST_USERNAME/RESTIC_REST_PASSWORD. ok is false when there are
// none.
func (c Config) credentials() (user, pass string, ok bool) {
	if c.URL.User != nil {
		pass, _ := c.URL.User.Password()
		return c.URL.User.Username(), pass, true
	}
	for _, prefix := range []string{"CAIRN_REST_", "RESTIC_REST_"} {
		user, pass := os.Getenv(prefix+"USERNAME"), os.Getenv(prefix+"PASSWORD")
		if user != "" || pass != "" {
			return user, pass, true
		}
	}
	return "", "", false
}

// redacted returns the base URL without user info.
func (c Config) redacted() string {
	u := *c.URL
	u.User = nil
	return u.String()
}

// OptionHelp describes each option SetOption takes, for `cairn options`.
var OptionHelp = map[string]string{
	"connections": fmt.Sprintf("set a limit for the number of concurrent connections (default: %d)", DefaultConnections),
}
