package gs

import (
	"context"
	"errors"
	"path"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/cairn-backup/cairn/internal/backend"
)

// List implements backend.Backend. It lists the objects under the type's
// directory, page by page, and calls fn without holding a connection
// slot. Objects that do not fit the layout are skipped: directory
// markers, objects in deeper directories, and packs outside the data/xx
// directory named by their first two characters, where Stat and Load
// would not find them.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.ConfigFile {
		return backend.ListConfig(ctx, b, fn)
	}
	if _, err := b.objectName(backend.Handle{Type: t, Name: "xx"}); err != nil {
		return err
	}
	dir := path.Join(b.prefix, t.String()) + "/"
	op := "list " + t.String()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := &storage.Query{Prefix: dir}
	if err := q.SetAttrSelection([]string{"Name", "Size"}); err != nil {
		return backend.Permanent(err)
	}
	it := b.bucket.Objects(ctx, q)
	for {
		// The iterator sends its requests from Next, between the calls of
		// fn: the slot is held then, and given up while fn runs.
		if err := b.slots.Acquire(ctx); err != nil {
			return err
		}
		attrs, err := it.Next()
		b.slots.Release()
		if errors.Is(err, iterator.Done) {
			return ctx.Err()
		}
		if err != nil {
			return classify(ctx, op, err)
		}
		fi, ok := listedFile(t, dir, attrs)
		if !ok {
			continue
		}
		if err := fn(fi); err != nil {
			return err
		}
	}
}

// listedFile turns a listed object under dir into the file it stores, if
// it is one.
func listedFile(t backend.FileType, dir string, attrs *storage.ObjectAttrs) (backend.FileInfo, bool) {
	rel, ok := strings.CutPrefix(attrs.Name, dir)
	if !ok || attrs.Size < 0 {
		return backend.FileInfo{}, false
	}
	if t == backend.PackFile {
		sub, name, ok := strings.Cut(rel, "/")
		if !ok || len(sub) != 2 || !strings.HasPrefix(name, sub) {
			return backend.FileInfo{}, false
		}
		rel = name
	}
	if rel == "" || strings.Contains(rel, "/") {
		return backend.FileInfo{}, false
	}
	return backend.FileInfo{Name: rel, Size: attrs.Size}, true
}
