package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// DefaultConnections is the number of concurrent requests a backend allows
// unless Config.Connections says otherwise.
const DefaultConnections = 5

// Config is the parsed form of an s3: location plus the s3.* options.
type Config struct {
	// Endpoint is the server's host[:port], without a scheme.
	Endpoint string
	// UseHTTP selects plain HTTP instead of HTTPS.
	UseHTTP bool
	// Bucket is the bucket's name; it is never empty in a parsed Config.
	Bucket string
	// Prefix is the path of the repository inside the bucket, without
	// leading or trailing slashes; empty means the bucket's root.
	Prefix string
	// Region is the bucket's region; empty lets the client ask the server
	// (or uses AWS_DEFAULT_REGION when set). Create makes a missing bucket
	// in this region.
	Region string
	// BucketLookup is how the bucket is addressed: "auto" (or empty, the
	// default: virtual-host style for Amazon and Google, path style
	// elsewhere), "dns" (virtual-host style) or "path".
	BucketLookup string
	// StorageClass is the S3 storage class of pack files, such as
	// "STANDARD_IA"; empty means the bucket's default. Other files always
	// use the default class, so that they stay readable at once.
	StorageClass string
	// Connections limits concurrent requests; 0 means DefaultConnections.
	Connections int
	// Transport carries the requests; nil means a clone of
	// http.DefaultTransport. An *http.Transport is cloned, with
	// MaxIdleConnsPerHost set to the connection limit; any other
	// RoundTripper is used as it is. AWS_CA_BUNDLE is not read: trusted
	// certificates are the transport's business.
	Transport http.RoundTripper
}

// ParseConfig parses an s3: location. The accepted forms are
//
//	s3:http://host:port/bucket[/prefix...]   (plain HTTP)
//	s3:https://host[:port]/bucket[/prefix...]
//	s3:host[:port]/bucket[/prefix...]         (HTTPS)
//	s3://host[:port]/bucket[/prefix...]       (HTTPS, an old restic form)
//
// such as s3:s3.amazonaws.com/bucket. The prefix is cleaned; a location
// without a bucket name is an error.
func ParseConfig(location string) (Config, error) {
	rest, ok := strings.CutPrefix(location, "s3:")
	if !ok {
		return Config{}, fmt.Errorf("invalid s3 location %q: no s3: prefix", location)
	}
	var (
		cfg      Config
		bucketAt string // "bucket[/prefix]"
	)
	switch {
	case strings.HasPrefix(rest, "http://"), strings.HasPrefix(rest, "https://"):
		u, err := url.Parse(rest)
		if err != nil {
			return Config{}, fmt.Errorf("invalid s3 location %q: %w", location, unwrapURLError(err))
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return Config{}, fmt.Errorf("invalid s3 location %q: user info, query and fragment are not allowed", location)
		}
		cfg.Endpoint, cfg.UseHTTP = u.Host, u.Scheme == "http"
		bucketAt = strings.TrimPrefix(u.Path, "/")
	default:
		rest = strings.TrimPrefix(rest, "//")
		cfg.Endpoint, bucketAt, _ = strings.Cut(rest, "/")
	}
	if cfg.Endpoint == "" || strings.ContainsAny(cfg.Endpoint, "/?#@ ") {
		return Config{}, fmt.Errorf("invalid s3 location %q: no valid host", location)
	}
	bucket, prefix, _ := strings.Cut(bucketAt, "/")
	if bucket == "" {
		return Config{}, fmt.Errorf("invalid s3 location %q: no bucket name", location)
	}
	if i := strings.IndexFunc(bucketAt, isControl); i >= 0 {
		return Config{}, fmt.Errorf("invalid s3 location %q: control character %q in bucket or prefix", location, bucketAt[i])
	}
	cfg.Bucket = bucket
	p, err := cleanPrefix(prefix)
	if err != nil {
		return Config{}, fmt.Errorf("invalid s3 location %q: %w", location, err)
	}
	cfg.Prefix = p
	return cfg, nil
}

// cleanPrefix cleans a path inside a bucket and drops its leading and
// trailing slashes. A ".." element is an error.
func cleanPrefix(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return "", errors.New("prefix must not contain \"..\"")
		}
	}
	return strings.Trim(path.Clean("/"+p), "/"), nil
}

// unwrapURLError drops the repetition of the URL from a url.Error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// SetOption applies one -o option; key is given without the "s3." prefix.
// The keys are "region", "bucket-lookup" ("auto", "dns" or "path"),
// "storage-class" and "connections" (a positive number). An unknown key or
// a bad value is an error and leaves c unchanged.
func (c *Config) SetOption(key, value string) error {
	switch key {
	case "region":
		c.Region = value
	case "bucket-lookup":
		switch value {
		case "", "auto", "dns", "path":
			c.BucketLookup = value
		default:
			return fmt.Errorf("s3.bucket-lookup: invalid value %q (want auto, dns or path)", value)
		}
	case "storage-class":
		c.StorageClass = value
	case "connections":
		n, err := strconv.Atoi(value)
		if err != nil || n <= 0 {
			return fmt.Errorf("s3.connections: invalid value %q (want a positive number)", value)
		}
		c.Connections = n
	default:
		return fmt.Errorf("unknown option s3.%s", key)
	}
	return nil
}

// String returns the location c describes, as shown in messages.
func (c Config) String() string {
	p := "/" + c.Bucket
	if c.Prefix != "" {
		p += "/" + c.Prefix
	}
	if c.UseHTTP {
		// The http form goes through URL parsing, which decodes escapes:
		// escape the path so that "%", "?" and "#" in it come back as they are.
		return "s3:" + (&url.URL{Scheme: "http", Host: c.Endpoint, Path: p}).String()
	}
	return "s3:" + c.Endpoint + p
}

// isControl reports an ASCII control character, which no bucket name or
// object key of a repository holds.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// OptionHelp describes each option SetOption takes, for `cairn options`.
var OptionHelp = map[string]string{
	"region":        "set region",
	"bucket-lookup": "bucket lookup style: auto, dns or path",
	"storage-class": "set the S3 storage class of new objects (STANDARD, STANDARD_IA, ...)",
	"connections":   fmt.Sprintf("set a limit for the number of concurrent connections (default: %d)", DefaultConnections),
}
