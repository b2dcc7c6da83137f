// Package gs is a backend storing a repository in a Google Cloud Storage
// bucket, through cloud.google.com/go/storage, in restic's layout: under
// the configured path, the files config and keys/, locks/, snapshots/,
// index/ with one object per file, and packs as data/<first two
// characters of the name>/<name>.
//
// The backend does not retry: a retrying decorator wraps it, and the
// client's own retries are turned off. With STORAGE_EMULATOR_HOST set, the
// client talks to that server (an emulator such as fake-gcs-server)
// instead of Google's.
package gs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Backend is a repository in a Google Cloud Storage bucket. It is safe for
// concurrent use; at most Properties().Connections requests run at once.
type Backend struct {
	client    *storage.Client
	bucket    *storage.BucketHandle
	name      string // the bucket's name
	prefix    string // "" or a path without leading and trailing "/"
	projectID string // for a new bucket
	region    string // for a new bucket
	where     string // the location, for messages
	conns     int
	slots     backend.Slots // one per running request
	transport http.RoundTripper
}

var _ backend.Backend = (*Backend)(nil)

// Open returns a backend for the existing repository cfg names. A missing
// bucket or a path without a config object yields an error matching
// backend.ErrNotExist.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := backend.CheckRepository(ctx, b, b.where); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// Create returns a backend for a new repository at cfg, making the bucket
// in cfg.ProjectID (else GOOGLE_PROJECT_ID) and cfg.Region if it is
// missing. It fails with a permanent error if a config object exists
// there already.
func Create(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Backend, error) {
		_ = b.Close()
		return nil, fmt.Errorf("create repository %s: %w", b.where, err)
	}
	if err := b.makeBucket(ctx); err != nil {
		return fail(err)
	}
	if err := backend.CheckNoRepository(ctx, b); err != nil {
		return fail(err)
	}
	return b, nil
}

// makeBucket creates the bucket unless it exists. A refusal (403) to tell
// whether it exists counts as existing: a service account may be allowed
// to use the objects of a bucket without reading the bucket's metadata,
// and the next request shows whether access works. A 401 (no valid
// credentials) is the error it is.
func (b *Backend) makeBucket(ctx context.Context) error {
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()
	_, err := b.bucket.Attrs(ctx)
	switch {
	case err == nil, httpCode(err) == http.StatusForbidden:
		return nil
	}
	if err = classify(ctx, "check bucket", err); !errors.Is(err, backend.ErrNotExist) {
		return err
	}
	if b.projectID == "" {
		return backend.Permanent(fmt.Errorf("bucket %s does not exist, and GOOGLE_PROJECT_ID is not set to create it in", b.name))
	}
	err = b.bucket.Create(ctx, b.projectID, &storage.BucketAttrs{Location: b.region})
	if code := httpCode(err); code == http.StatusConflict {
		return nil // made by someone else in the meantime
	}
	return classify(ctx, "make bucket", err)
}

// newBackend builds the client: the transport, credentials (see
// tokenSource) and the connection limit.
func newBackend(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Bucket == "" {
		return nil, backend.Permanent(fmt.Errorf("gs: invalid configuration %s: bucket is required", cfg))
	}
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, backend.Permanent(fmt.Errorf("gs: invalid configuration %s: %w", cfg, err))
	}
	conns := cfg.Connections
	if conns <= 0 {
		conns = DefaultConnections
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	projectID := cfg.ProjectID
	if projectID == "" {
		projectID = os.Getenv("GOOGLE_PROJECT_ID")
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
	ts, err := tokenSource(ctx, &http.Client{Transport: tr})
	if err != nil {
		return nil, backend.Permanent(fmt.Errorf("gs: %w", err))
	}
	// The client uses our HTTP client as it is, authentication included.
	// Against Google, the token source is given too only so that the
	// client does not look for credentials of its own; with an emulator
	// it turns authentication off by itself.
	hc := &http.Client{Transport: tr}
	if ts != nil {
		hc.Transport = &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, ts), Base: tr}
	}
	opts := []option.ClientOption{storage.WithDisabledClientMetrics(), option.WithHTTPClient(hc)}
	if ts != nil && os.Getenv("STORAGE_EMULATOR_HOST") == "" {
		opts = append(opts, option.WithTokenSource(ts))
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, backend.Permanent(fmt.Errorf("gs: %w", err))
	}
	// The decorator above us retries. RetryNever alone would leave the
	// chunks of resumable uploads retried for up to 32 s, with a session
	// that may be gone; a policy that retries nothing turns that off too.
	client.SetRetry(storage.WithPolicy(storage.RetryAlways), storage.WithErrorFunc(func(error) bool { return false }))
	where := Config{Bucket: cfg.Bucket, Prefix: prefix}.String()
	return &Backend{
		client:    client,
		bucket:    client.Bucket(cfg.Bucket),
		name:      cfg.Bucket,
		prefix:    prefix,
		projectID: projectID,
		region:    region,
		where:     where,
		conns:     conns,
		slots:     backend.NewSlots(conns),
		transport: tr,
	}, nil
}

// Properties implements backend.Backend. Cloud Storage replaces objects
// atomically.
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: b.conns, HasAtomicReplace: true}
}

// Close implements backend.Backend: it closes the client and drops idle
// connections.
func (b *Backend) Close() error {
	err := b.client.Close()
	if c, ok := b.transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return err
}

// objectName returns the name of h's object in the bucket.
func (b *Backend) objectName(h backend.Handle) (string, error) {
	return backend.ObjectName(b.prefix, h)
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	name, err := b.objectName(h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	if err := b.slots.Acquire(ctx); err != nil {
		return backend.FileInfo{}, err
	}
	defer b.slots.Release()
	attrs, err := b.bucket.Object(name).Attrs(ctx)
	if err != nil {
		return backend.FileInfo{}, classify(ctx, "stat "+h.String(), err)
	}
	if attrs.Size < 0 {
		return backend.FileInfo{}, fmt.Errorf("stat %v: server reported size %d", h, attrs.Size)
	}
	return backend.FileInfo{Name: h.Name, Size: attrs.Size}, nil
}

// Remove implements backend.Backend. Deleting a missing object is a 404,
// which matches ErrNotExist.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	name, err := b.objectName(h)
	if err != nil {
		return err
	}
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()
	return classify(ctx, "remove "+h.String(), b.bucket.Object(name).Delete(ctx))
}
