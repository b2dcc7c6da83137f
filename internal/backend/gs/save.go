package gs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"google.golang.org/api/googleapi"

	"github.com/cairn-backup/cairn/internal/backend"
)

// chunkSize is the size of the chunks of a resumable upload. Files up to
// this size go in one request, streamed from the reader without a
// buffer; larger ones (big packs) in chunks, each buffered once. It is a
// variable only so that a test can make chunked uploads happen with small
// files.
var chunkSize = 16 << 20

// Save implements backend.Backend. It rewinds rd and sends exactly
// rd.Length() bytes of it. An existing object is replaced atomically.
//
// The client computes the CRC32C of what it sends: for a chunked upload
// the server checks it before the object appears; for a single request
// the client compares it with the server's afterwards and fails the save
// on a mismatch, which a retry then overwrites.
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
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()

	// Cancelling the writer's context is how an upload is abandoned: the
	// object is then not created.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := b.bucket.Object(name).NewWriter(wctx)
	w.ContentType = "application/octet-stream"
	w.ChunkSize = 0
	if size > int64(chunkSize) {
		w.ChunkSize = chunkSize
	}
	src := &backend.ReadTracker{R: io.LimitReader(rd, size)}
	n, err := io.Copy(w, src)
	switch {
	case err == nil && n < size:
		cancel()
		_ = w.Close()
		return backend.Permanent(fmt.Errorf("%s: the data ended after %d of %d bytes", op, n, size))
	case err != nil && src.Err != nil: // reading rd failed, not the upload
		cancel()
		_ = w.Close()
		return fmt.Errorf("%s: read: %w", op, src.Err)
	case err != nil:
		cancel()
		_ = w.Close()
		return saveError(ctx, op, err)
	}
	if err := w.Close(); err != nil {
		return saveError(ctx, op, err)
	}
	if got := w.Attrs().Size; got != size {
		return fmt.Errorf("%s: server stored %d of %d bytes", op, got, size)
	}
	return nil
}

// saveError is classify for uploads, where a 404 is not about a missing
// file: a resumable upload's session has expired (or the server lost it),
// or the bucket is gone. Both are worth another try, which starts a new
// session.
func saveError(ctx context.Context, op string, err error) error {
	if httpCode(err) == http.StatusNotFound && ctx.Err() == nil {
		return &opError{op: op, err: err}
	}
	return classify(ctx, op, err)
}

// httpCode returns the HTTP status of the server's answer err carries, or
// 0.
func httpCode(err error) int {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code
	}
	return 0
}
