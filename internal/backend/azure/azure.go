// Package azure is a backend storing a repository in an Azure Blob
// Storage container, through the Azure SDK's azblob, in restic's layout:
// under the configured path, the blobs config and keys/, locks/,
// snapshots/, index/ with one blob per file, and packs as
// data/<first two characters of the name>/<name>.
//
// Credentials are a shared key or a SAS token, from the Config or the
// environment variables restic reads (see [Config.ApplyEnvironment]).
//
// The backend does not retry: a retrying decorator wraps it, and the
// SDK's own retries are turned off.
package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Backend is a repository in an Azure container. It is safe for concurrent
// use; at most Properties().Connections requests run at once.
type Backend struct {
	container *container.Client
	prefix    string           // "" or a path without leading and trailing "/"
	tier      *blob.AccessTier // of new blobs; nil: the account's default
	where     string           // the location, for messages
	conns     int
	slots     backend.Slots // one per running request
	transport http.RoundTripper
}

var _ backend.Backend = (*Backend)(nil)

// Open returns a backend for the existing repository cfg names. A missing
// container or a path without a config blob yields an error matching
// backend.ErrNotExist.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(cfg)
	if err != nil {
		return nil, err
	}
	if err := backend.CheckRepository(ctx, b, b.where); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// Create returns a backend for a new repository at cfg, making the
// container if it is missing. It fails with a permanent error if a config
// blob exists there already.
func Create(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Backend, error) {
		_ = b.Close()
		return nil, fmt.Errorf("create repository %s: %w", b.where, err)
	}
	if err := b.makeContainer(ctx); err != nil {
		return fail(err)
	}
	if err := backend.CheckNoRepository(ctx, b); err != nil {
		return fail(err)
	}
	return b, nil
}

// makeContainer creates the container unless it exists. A refusal to say
// whether it exists, for credentials that are valid but lack the right
// (a SAS token scoped to the container), counts as existing: the next
// request shows whether access works.
func (b *Backend) makeContainer(ctx context.Context) error {
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()
	_, err := b.container.GetProperties(ctx, nil)
	switch {
	case err == nil, isNotAuthorized(err):
		return nil
	case !bloberror.HasCode(err, bloberror.ContainerNotFound):
		return classify(ctx, "check container", err)
	}
	_, err = b.container.Create(ctx, nil)
	if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil // made by someone else in the meantime
	}
	return classify(ctx, "make container", err)
}

// newBackend builds the client: credentials from cfg or the environment,
// the service URL, the transport and the connection limit.
func newBackend(cfg Config) (*Backend, error) {
	cfg.ApplyEnvironment(os.Getenv)
	invalid := func(format string, args ...any) error {
		return backend.Permanent(fmt.Errorf("azure: invalid configuration %s: %s", cfg, fmt.Sprintf(format, args...)))
	}
	if cfg.Container == "" {
		return nil, invalid("no container")
	}
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if cfg.AccountName == "" {
		return nil, invalid("no account name ($AZURE_ACCOUNT_NAME is empty)")
	}
	conns := cfg.Connections
	if conns <= 0 {
		conns = DefaultConnections
	}
	var tier *blob.AccessTier
	if cfg.AccessTier != "" {
		t := blob.AccessTier(cfg.AccessTier)
		tier = &t
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	if t, ok := tr.(*http.Transport); ok {
		t = t.Clone()
		t.MaxIdleConnsPerHost = conns
		tr = t
	}
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: tr},
		Retry:     policy.RetryOptions{MaxRetries: -1}, // the decorator above us retries
	}}
	containerURL := cfg.serviceURL() + "/" + url.PathEscape(cfg.Container)
	var client *container.Client
	switch {
	case cfg.AccountKey != "":
		cred, err := container.NewSharedKeyCredential(cfg.AccountName, cfg.AccountKey)
		if err != nil {
			return nil, invalid("account key: %v", err)
		}
		client, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
		if err != nil {
			return nil, invalid("%v", err)
		}
	case cfg.AccountSAS != "":
		client, err = container.NewClientWithNoCredential(containerURL+"?"+strings.TrimPrefix(cfg.AccountSAS, "?"), opts)
		if err != nil {
			return nil, invalid("%v", err)
		}
	default:
		return nil, invalid("no credentials: set $AZURE_ACCOUNT_KEY or $AZURE_ACCOUNT_SAS (Azure AD login is not supported)")
	}
	return &Backend{
		container: client,
		prefix:    prefix,
		tier:      tier,
		where:     Config{Container: cfg.Container, Prefix: prefix}.String(),
		conns:     conns,
		slots:     backend.NewSlots(conns),
		transport: tr,
	}, nil
}

// Properties implements backend.Backend. Azure replaces blobs atomically.
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: b.conns, HasAtomicReplace: true}
}

// Close implements backend.Backend: it drops idle connections.
func (b *Backend) Close() error {
	if c, ok := b.transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}

// blobName returns the name of h's blob in the container.
func (b *Backend) blobName(h backend.Handle) (string, error) {
	return backend.ObjectName(b.prefix, h)
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	name, err := b.blobName(h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	if err := b.slots.Acquire(ctx); err != nil {
		return backend.FileInfo{}, err
	}
	defer b.slots.Release()
	props, err := b.container.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return backend.FileInfo{}, classify(ctx, "stat "+h.String(), err)
	}
	if props.ContentLength == nil || *props.ContentLength < 0 {
		return backend.FileInfo{}, fmt.Errorf("stat %v: server reported no size", h)
	}
	return backend.FileInfo{Name: h.Name, Size: *props.ContentLength}, nil
}

// Remove implements backend.Backend. A missing blob is ErrNotExist.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	name, err := b.blobName(h)
	if err != nil {
		return err
	}
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()
	_, err = b.container.NewBlobClient(name).Delete(ctx, nil)
	return classify(ctx, "remove "+h.String(), err)
}
