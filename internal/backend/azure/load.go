package azure

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Load implements backend.Backend with one ranged GET. A range reaching
// beyond the end of the blob is a permanent error; reading nothing at
// exactly the end is not. If fn fails because reading the body failed,
// the error is transient; if fn fails on its own, it is permanent. The
// request holds its connection slot until fn returns.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	name, err := b.blobName(h)
	if err != nil {
		return err
	}
	op := "load " + h.String()
	if backend.InvalidRange(offset, length) {
		return backend.Permanent(fmt.Errorf("%s: invalid range %d+%d", op, offset, length))
	}
	ranged := length > 0 || offset > 0

	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	resp, err := b.container.NewBlobClient(name).DownloadStream(ctx, &blob.DownloadStreamOptions{
		Range: blob.HTTPRange{Offset: offset, Count: int64(length)},
	})
	if err != nil {
		b.slots.Release()
		if isRangeError(err) {
			return b.loadAtEnd(ctx, h, length, offset, fn)
		}
		return classify(ctx, op, err)
	}
	defer func() {
		_ = resp.Body.Close()
		b.slots.Release()
	}()

	if ranged {
		if start, ok := rangeStart(resp.ContentRange); !ok || start != offset {
			return backend.Permanent(fmt.Errorf("%s: server answered range %d+%d with Content-Range %q",
				op, offset, length, deref(resp.ContentRange)))
		}
	}
	var rd io.Reader = resp.Body
	if length > 0 {
		if resp.ContentLength == nil || *resp.ContentLength != int64(length) {
			return backend.Permanent(fmt.Errorf("%s: range %d+%d beyond end of file (server sent %s bytes)",
				op, offset, length, sizeString(resp.ContentLength)))
		}
		rd = io.LimitReader(resp.Body, int64(length))
	}
	return backend.CallLoadFn(rd, fn)
}

// rangeStart returns the first byte of a partial answer from its
// Content-Range header ("bytes 100-199/1000").
func rangeStart(header *string) (int64, bool) {
	cr, ok := strings.CutPrefix(deref(header), "bytes ")
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sizeString(n *int64) string {
	if n == nil {
		return "unknown"
	}
	return strconv.FormatInt(*n, 10)
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
