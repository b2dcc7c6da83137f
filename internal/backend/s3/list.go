package s3

import (
	"context"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/internal/backend"
)

// List implements backend.Backend. It lists the type's directory
// recursively, page by page, and calls fn without holding a connection
// slot. Objects that do not fit the layout are skipped:
// directory markers, objects in deeper directories, and packs outside the
// data/xx directory named by their first two characters, where Stat and
// Load would not find them.
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
	// The iterator sends its requests from this goroutine, between the
	// calls of the loop body: the slot is held then, and given up while
	// fn runs.
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	held := true
	defer func() {
		if held {
			b.slots.Release()
		}
	}()
	opts := minio.ListObjectsOptions{Prefix: dir, Recursive: true}
	for obj := range b.core.ListObjectsIter(ctx, b.bucket, opts) {
		if obj.Err != nil {
			return classify(ctx, op, obj.Err)
		}
		fi, ok := listedFile(t, dir, obj)
		if !ok {
			continue
		}
		b.slots.Release()
		held = false
		if err := fn(fi); err != nil {
			return err
		}
		if err := b.slots.Acquire(ctx); err != nil {
			return err
		}
		held = true
	}
	return ctx.Err()
}

// listedFile turns a listed object under dir into the file it stores, if
// it is one.
func listedFile(t backend.FileType, dir string, obj minio.ObjectInfo) (backend.FileInfo, bool) {
	rel, ok := strings.CutPrefix(obj.Key, dir)
	if !ok || obj.Size < 0 {
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
	return backend.FileInfo{Name: rel, Size: obj.Size}, true
}
