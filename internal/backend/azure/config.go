package azure

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
// unless Config.Connections says otherwise (restic's default).
const DefaultConnections = 5

// DefaultEndpointSuffix is the DNS suffix of Azure's public cloud, under
// which an account's blob service is "<account>.blob.<suffix>".
const DefaultEndpointSuffix = "core.windows.net"

// Config is the parsed form of an azure: location plus the azure.* options
// and the AZURE_* environment variables.
type Config struct {
	// Container is the container's name; it is never empty in a parsed
	// Config.
	Container string
	// Prefix is the path of the repository inside the container, without
	// leading or trailing slashes; empty means the container's root.
	Prefix string

	// AccountName is the storage account (AZURE_ACCOUNT_NAME).
	AccountName string
	// AccountKey is the account's shared key, base64 (AZURE_ACCOUNT_KEY).
	AccountKey string
	// AccountSAS is a shared access signature, the query string of a SAS
	// URL with or without its "?" (AZURE_ACCOUNT_SAS). It is used only
	// when AccountKey is empty.
	AccountSAS string
	// EndpointSuffix replaces DefaultEndpointSuffix for other clouds
	// (AZURE_ENDPOINT_SUFFIX).
	EndpointSuffix string
	// Endpoint, if set, is the blob service's URL, such as
	// "http://127.0.0.1:10000/devstoreaccount1" for an emulator; it
	// replaces https://<account>.blob.<suffix> (-o azure.endpoint).
	Endpoint string

	// AccessTier is the tier of new blobs: "Hot", "Cool" or "Cold"; empty
	// means the account's default (-o azure.access-tier).
	AccessTier string
	// Connections limits concurrent requests; 0 means DefaultConnections.
	Connections int
	// Transport carries the requests; nil means a clone of
	// http.DefaultTransport. An *http.Transport is cloned, with
	// MaxIdleConnsPerHost set to the connection limit; any other
	// RoundTripper is used as it is.
	Transport http.RoundTripper
}

// ParseConfig parses an azure: location, "azure:container:/path" (the
// path may be empty or "/", meaning the container's root; its leading
// slash is optional). The path is cleaned; a ".." in it, a missing colon
// or an empty container name is an error.
func ParseConfig(location string) (Config, error) {
	rest, ok := strings.CutPrefix(location, "azure:")
	if !ok {
		return Config{}, fmt.Errorf("invalid azure location %q: no azure: prefix", location)
	}
	container, prefix, ok := strings.Cut(rest, ":")
	if !ok {
		return Config{}, fmt.Errorf("invalid azure location %q: want azure:container:/path", location)
	}
	if container == "" || strings.ContainsAny(container, "/?#% ") {
		return Config{}, fmt.Errorf("invalid azure location %q: no valid container name", location)
	}
	if i := strings.IndexFunc(rest, isControl); i >= 0 {
		return Config{}, fmt.Errorf("invalid azure location %q: control character %q in container or path", location, rest[i])
	}
	p, err := cleanPrefix(prefix)
	if err != nil {
		return Config{}, fmt.Errorf("invalid azure location %q: %w", location, err)
	}
	return Config{Container: container, Prefix: p}, nil
}

// cleanPrefix cleans a path inside a container and drops its leading and
// trailing slashes. A ".." element is an error.
func cleanPrefix(p string) (string, error) {
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return "", errors.New("path must not contain \"..\"")
		}
	}
	return strings.Trim(path.Clean("/"+p), "/"), nil
}

// isControl reports an ASCII control character, which no container or
// blob name of a repository holds.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ApplyEnvironment fills the credentials and the endpoint suffix from the
// variables restic reads, AZURE_ACCOUNT_NAME, AZURE_ACCOUNT_KEY,
// AZURE_ACCOUNT_SAS and AZURE_ENDPOINT_SUFFIX, looked up with getenv
// (os.Getenv). Fields already set are kept.
func (c *Config) ApplyEnvironment(getenv func(string) string) {
	for _, f := range []struct {
		field *string
		name  string
	}{
		{&c.AccountName, "AZURE_ACCOUNT_NAME"},
		{&c.AccountKey, "AZURE_ACCOUNT_KEY"},
		{&c.AccountSAS, "AZURE_ACCOUNT_SAS"},
		{&c.EndpointSuffix, "AZURE_ENDPOINT_SUFFIX"},
	} {
		if *f.field == "" {
			*f.field = getenv(f.name)
		}
	}
}

// accessTiers are the tiers a new blob may get: the online ones, whose
// blobs can be read at once.
var accessTiers = []string{"Hot", "Cool", "Cold"}

// SetOption applies one -o option; key is given without the "azure."
// prefix. The keys are "connections" (a positive number), "endpoint" (an
// http or https URL) and "access-tier" (Hot, Cool or Cold, in any case).
// An unknown key or a bad value is an error and leaves c unchanged.
func (c *Config) SetOption(key, value string) error {
	switch key {
	case "connections":
		n, err := strconv.Atoi(value)
		if err != nil || n <= 0 {
			return fmt.Errorf("azure.connections: invalid value %q (want a positive number)", value)
		}
		c.Connections = n
	case "endpoint":
		u, err := url.Parse(value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("azure.endpoint: invalid value %q (want an http or https URL such as https://account.blob.core.windows.net)", value)
		}
		c.Endpoint = strings.TrimRight(value, "/")
	case "access-tier":
		tier := ""
		for _, t := range accessTiers {
			if strings.EqualFold(t, value) {
				tier = t
			}
		}
		if tier == "" && value != "" {
			return fmt.Errorf("azure.access-tier: invalid value %q (want Hot, Cool or Cold)", value)
		}
		c.AccessTier = tier
	default:
		return fmt.Errorf("unknown option azure.%s", key)
	}
	return nil
}

// serviceURL returns the URL of the account's blob service, without a
// trailing slash.
func (c Config) serviceURL() string {
	if c.Endpoint != "" {
		return c.Endpoint
	}
	suffix := c.EndpointSuffix
	if suffix == "" {
		suffix = DefaultEndpointSuffix
	}
	return "https://" + c.AccountName + ".blob." + suffix
}

// String returns the location c describes, as shown in messages. It holds
// no secret.
func (c Config) String() string {
	return "azure:" + c.Container + ":/" + c.Prefix
}

// OptionHelp describes each option SetOption takes, for `cairn options`.
var OptionHelp = map[string]string{
	"connections": fmt.Sprintf("set a limit for the number of concurrent connections (default: %d)", DefaultConnections),
	"endpoint":    "URL of the blob service, replacing https://<account>.blob.<suffix> (e.g. an emulator's http://127.0.0.1:10000/devstoreaccount1)",
	"access-tier": "set the access tier for the blob storage (Hot, Cool or Cold; default: the account's)",
}
