// Package s3 is a backend storing a repository in an S3 bucket, through
// minio-go, in restic's S3 layout: under the configured prefix, the files
// config and keys/, locks/, snapshots/, index/ with one object per file,
// and packs as data/<first two characters of the name>/<name>.
//
// The backend does not retry: a retrying decorator wraps it, and the
// client's own retries are turned off.
package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Backend is a repository in an S3 bucket. It is safe for concurrent use;
// at most Properties().Connections requests run at once.
type Backend struct {
	core         minio.Core
	bucket       string
	prefix       string // "" or a path without leading and trailing "/"
	storageClass string // for packs only
	region       string // for new buckets; "" lets the client choose
	where        string // the location, for messages
	conns        int
	slots        backend.Slots // one per running request
	transport    http.RoundTripper
}

var _ backend.Backend = (*Backend)(nil)

// Open returns a backend for the existing repository cfg names. A missing
// bucket or a prefix without a config object yields an error matching
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
// if it is missing, in cfg.Region, else in AWS_DEFAULT_REGION, else in the
// client's default (us-east-1). It fails with a permanent error if a
// config object exists there already.
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

// makeBucket creates the bucket unless it exists. A refusal to tell
// whether it exists counts as existing: users limited to a prefix may
// not be allowed to ask, and the next request shows whether access works.
func (b *Backend) makeBucket(ctx context.Context) error {
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()
	found, err := b.core.BucketExists(ctx, b.bucket)
	err = classify(ctx, "check bucket", err)
	var ae *accessError
	switch {
	case errors.As(err, &ae):
		return nil
	case err != nil:
		return err
	case found:
		return nil
	}
	err = b.core.MakeBucket(ctx, b.bucket, minio.MakeBucketOptions{Region: b.region})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" {
		return nil // made by someone else in the meantime
	}
	return classify(ctx, "make bucket", err)
}

// newBackend builds the client: credentials (see findCredentials), the
// transport and the connection limit.
func newBackend(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Bucket == "" || cfg.Endpoint == "" {
		return nil, backend.Permanent(fmt.Errorf("s3: invalid configuration %s: endpoint and bucket are required", cfg))
	}
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, backend.Permanent(fmt.Errorf("s3: invalid configuration %s: %w", cfg, err))
	}
	conns := cfg.Connections
	if conns <= 0 {
		conns = DefaultConnections
	}
	lookup, err := bucketLookup(cfg.BucketLookup)
	if err != nil {
		return nil, backend.Permanent(err)
	}
	region := cfg.Region
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	creds, err := findCredentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
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
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       !cfg.UseHTTP,
		Region:       region,
		BucketLookup: lookup,
		Transport:    tr,
		MaxRetries:   1, // no retries: the decorator above us retries
	})
	if err != nil {
		return nil, backend.Permanent(fmt.Errorf("s3: %w", err))
	}
	return &Backend{
		core:         minio.Core{Client: client},
		bucket:       cfg.Bucket,
		prefix:       prefix,
		storageClass: cfg.StorageClass,
		region:       region,
		where:        Config{Endpoint: cfg.Endpoint, UseHTTP: cfg.UseHTTP, Bucket: cfg.Bucket, Prefix: prefix}.String(),
		conns:        conns,
		slots:        backend.NewSlots(conns),
		transport:    tr,
	}, nil
}

// bucketLookup translates Config.BucketLookup.
func bucketLookup(s string) (minio.BucketLookupType, error) {
	switch s {
	case "", "auto":
		return minio.BucketLookupAuto, nil
	case "dns":
		return minio.BucketLookupDNS, nil
	case "path":
		return minio.BucketLookupPath, nil
	}
	return 0, fmt.Errorf("s3: invalid bucket lookup %q (want auto, dns or path)", s)
}

// Properties implements backend.Backend. S3 replaces objects atomically.
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

// objectName returns the key of h in the bucket.
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
	info, err := b.core.StatObject(ctx, b.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return backend.FileInfo{}, classify(ctx, "stat "+h.String(), err)
	}
	if info.Size < 0 {
		return backend.FileInfo{}, fmt.Errorf("stat %v: server reported size %d", h, info.Size)
	}
	return backend.FileInfo{Name: h.Name, Size: info.Size}, nil
}

// Remove implements backend.Backend. S3 reports success for deleting a
// missing object, so Remove asks first and returns ErrNotExist then.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	name, err := b.objectName(h)
	if err != nil {
		return err
	}
	if _, err := b.Stat(ctx, h); err != nil {
		return err
	}
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()
	err = b.core.RemoveObject(ctx, b.bucket, name, minio.RemoveObjectOptions{})
	return classify(ctx, "remove "+h.String(), err)
}
