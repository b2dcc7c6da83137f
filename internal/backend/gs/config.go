package gs

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// DefaultConnections is the number of concurrent requests a backend allows
// unless Config.Connections says otherwise.
const DefaultConnections = 5

// DefaultRegion is where Create makes a missing bucket unless
// Config.Region says otherwise (a multi-region, as restic's default).
const DefaultRegion = "us"

// Config is the parsed form of a gs: location plus the gs.* options.
type Config struct {
	// Bucket is the bucket's name; it is never empty in a parsed Config.
	Bucket string
	// Prefix is the path of the repository inside the bucket, without
	// leading or trailing slashes; empty means the bucket's root.
	Prefix string
	// ProjectID is the Google Cloud project a new bucket is made in; empty
	// means GOOGLE_PROJECT_ID. It is needed only to create a bucket.
	ProjectID string
	// Region is the location of a bucket that Create makes; empty means
	// DefaultRegion.
	Region string
	// Connections limits concurrent requests; 0 means DefaultConnections.
	Connections int
	// Transport carries the requests; nil means a clone of
	// http.DefaultTransport. An *http.Transport is cloned, with
	// MaxIdleConnsPerHost set to the connection limit; any other
	// RoundTripper is used as it is. Authentication is added on top.
	Transport http.RoundTripper
}

// ParseConfig parses a gs: location, gs:BUCKET:/PATH as restic has it
// (the path may lack its leading slash, and may be empty or "/" for the
// bucket's root). The path is cleaned; a location without a bucket name
// or without the colon after it is an error.
func ParseConfig(location string) (Config, error) {
	rest, ok := strings.CutPrefix(location, "gs:")
	if !ok {
		return Config{}, fmt.Errorf("invalid gs location %q: no gs: prefix", location)
	}
	bucket, prefix, ok := strings.Cut(rest, ":")
	if !ok {
		return Config{}, fmt.Errorf("invalid gs location %q: want gs:bucket:/path", location)
	}
	if bucket == "" || strings.ContainsAny(bucket, "/ ") {
		return Config{}, fmt.Errorf("invalid gs location %q: no valid bucket name", location)
	}
	if i := strings.IndexFunc(rest, isControl); i >= 0 {
		return Config{}, fmt.Errorf("invalid gs location %q: control character %q in bucket or path", location, rest[i])
	}
	p, err := cleanPrefix(prefix)
	if err != nil {
		return Config{}, fmt.Errorf("invalid gs location %q: %w", location, err)
	}
	return Config{Bucket: bucket, Prefix: p}, nil
}

// cleanPrefix cleans a path inside a bucket and drops its leading and
// trailing slashes. A ".." element is an error.
func cleanPrefix(p string) (string, error) {
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return "", errors.New("path must not contain \"..\"")
		}
	}
	return strings.Trim(path.Clean("/"+p), "/"), nil
}

// isControl reports an ASCII control character, which no bucket name or
// object name of a repository holds.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// SetOption applies one -o option; key is given without the "gs."
// prefix. The keys are "connections" (a positive number) and "region"
// (the location of a bucket Create makes). An unknown key or a bad value
// is an error and leaves c unchanged.
func (c *Config) SetOption(key, value string) error {
	switch key {
	case "connections":
		n, err := strconv.Atoi(value)
		if err != nil || n <= 0 {
			return fmt.Errorf("gs.connections: invalid value %q (want a positive number)", value)
		}
		c.Connections = n
	case "region":
		c.Region = value
	default:
		return fmt.Errorf("unknown option gs.%s", key)
	}
	return nil
}

// String returns the location c describes, as shown in messages.
func (c Config) String() string {
	return "gs:" + c.Bucket + ":/" + c.Prefix
}

// OptionHelp describes each option SetOption takes, for `cairn options`.
var OptionHelp = map[string]string{
	"connections": fmt.Sprintf("set a limit for the number of concurrent connections (default: %d)", DefaultConnections),
	"region":      fmt.Sprintf("region to create the bucket in (default: %s)", DefaultRegion),
}
