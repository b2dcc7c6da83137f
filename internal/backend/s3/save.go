package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Upload sizes. They are variables only so that a test can make multipart
// uploads happen with small files.
var (
	// singlePutLimit is the largest object sent in one PUT request. Packs
	// (16 MiB to 128 MiB) and every other repository file stay below it,
	// so they are never split into a multipart upload.
	singlePutLimit int64 = 256 << 20
	// partSize is the part size of the multipart uploads of larger objects.
	partSize uint64 = 64 << 20
)

// Save implements backend.Backend. It rewinds rd and sends exactly
// rd.Length() bytes of it. An existing object is replaced atomically.
//
// Pack files get Config.StorageClass; all other files keep the bucket's
// default class, so that the repository's metadata is always readable at
// once (no restore from an archive tier).
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	name, err := b.objectName(h)
	if err != nil {
		return err
	}
	op := "save " + h.String()
	if err := rd.Rewind(); err != nil {
		return backend.Permanent(fmt.Errorf("%s: rewind: %w", op, err))
	}
	size := rd.Length()
	opts := minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		DisableMultipart: size <= singlePutLimit,
		PartSize:         partSize,
		NumThreads:       1, // one request, one connection slot
	}
	if h.Type == backend.PackFile {
		opts.StorageClass = b.storageClass
	}
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()
	body := &detachableReader{rd: rd}
	_, err = b.core.Client.PutObject(ctx, b.bucket, name, body, size, opts)
	// The transport may go on reading a request body after the request
	// failed; rd must be ours again before a retry rewinds it.
	body.detach()
	return classify(ctx, op, err)
}

// errDetached is what a detachableReader returns once detached.
var errDetached = errors.New("s3: read from a finished upload")

// detachableReader passes reads to rd until detach is called; then it
// fails them. It hides any io.Seeker or io.ReaderAt of rd, so the client
// reads rd only through it.
type detachableReader struct {
	mu       sync.Mutex // guards rd and detached; held during rd.Read
	rd       io.Reader
	detached bool
}

func (d *detachableReader) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.detached {
		return 0, errDetached
	}
	return d.rd.Read(p)
}

// detach ends access to rd; it waits for a running Read.
func (d *detachableReader) detach() {
	d.mu.Lock()
	d.detached = true
	d.mu.Unlock()
}
