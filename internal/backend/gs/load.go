package gs

import (
	"context"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Load implements backend.Backend with one ranged read. A range reaching
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
	want := int64(length)
	if length == 0 {
		want = -1 // to the end
	}
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	r, err := b.bucket.Object(name).NewRangeReader(ctx, offset, want)
	if err != nil {
		b.slots.Release()
		if isRangeError(err) {
			return b.loadAtEnd(ctx, h, length, offset, fn)
		}
		return classify(ctx, op, err)
	}
	defer func() {
		_ = r.Close()
		b.slots.Release()
	}()
	if r.Attrs.StartOffset != offset {
		return backend.Permanent(fmt.Errorf("%s: server answered range %d+%d from offset %d",
			op, offset, length, r.Attrs.StartOffset))
	}
	if length > 0 && r.Remain() != want {
		return backend.Permanent(fmt.Errorf("%s: range %d+%d beyond end of file (server sent %d bytes)",
			op, offset, length, r.Remain()))
	}
	return backend.CallLoadFn(r, fn)
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
