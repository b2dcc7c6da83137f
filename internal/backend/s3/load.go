package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Load implements backend.Backend with one ranged GET. A range reaching
// beyond the end of the object is a permanent error; reading nothing at
// exactly the end is not. If fn fails because reading the body failed,
// the error is transient; if fn fails on its own, it is permanent. The
// request holds its connection slot until fn returns.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	name, err := b.objectName(h)
	if err != nil {
		return err
	}
	op := "load " + h.String()
	if backend.InvalidRange(offset, length) {
		return backend.Permanent(fmt.Errorf("%s: invalid range %d+%d", op, offset, length))
	}
	var opts minio.GetObjectOptions
	ranged := length > 0 || offset > 0
	switch {
	case length > 0:
		err = opts.SetRange(offset, offset+int64(length)-1)
	case offset > 0:
		err = opts.SetRange(offset, 0)
	}
	if err != nil {
		return backend.Permanent(fmt.Errorf("%s: %w", op, err))
	}

	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	body, info, header, err := b.core.GetObject(ctx, b.bucket, name, opts)
	if err != nil {
		b.slots.Release()
		if isRangeError(err) {
			return b.loadAtEnd(ctx, h, length, offset, fn)
		}
		return classify(ctx, op, err)
	}
	defer func() {
		_ = body.Close()
		b.slots.Release()
	}()

	if ranged {
		if start, ok := rangeStart(header); !ok || start != offset {
			return backend.Permanent(fmt.Errorf("%s: server answered range %d+%d with Content-Range %q",
				op, offset, length, header.Get("Content-Range")))
		}
	}
	var rd io.Reader = body
	if length > 0 {
		if info.Size != int64(length) {
			return backend.Permanent(fmt.Errorf("%s: range %d+%d beyond end of file (server sent %d bytes)",
				op, offset, length, info.Size))
		}
		rd = io.LimitReader(body, int64(length))
	}
	return backend.CallLoadFn(rd, fn)
}

// rangeStart returns the first byte of a partial answer from its
// Content-Range header ("bytes 100-199/1000").
func rangeStart(header http.Header) (int64, bool) {
	cr, ok := strings.CutPrefix(header.Get("Content-Range"), "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(cr, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil
}

// loadAtEnd handles a refused range (416): reading zero bytes at the very
// end of the file is fine, anything else lies beyond the end.
func (b *Backend) loadAtEnd(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	fi, err := b.Stat(ctx, h)
	if err != nil {
		return err
	}
	return backend.LoadPastEnd(h, length, offset, fi.Size, fn)
}
