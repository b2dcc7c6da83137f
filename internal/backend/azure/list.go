package azure

import (
	"context"
	"path"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/cairn-backup/cairn/internal/backend"
)

// listPageSize is how many blobs one List request asks for; a variable
// so that a test can make listings take many pages.
var listPageSize int32 = 5000

// List implements backend.Backend. It lists the blobs under the type's
// directory page by page (the service's limit, 5000 a page), holding a
// connection slot for each page request and none while fn runs. Blobs that
// do not fit the layout are skipped: blobs in deeper directories, and
// packs outside the data/xx directory named by their first two
// characters, where Stat and Load would not find them.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.ConfigFile {
		return backend.ListConfig(ctx, b, fn)
	}
	if _, err := b.blobName(backend.Handle{Type: t, Name: "xx"}); err != nil {
		return err
	}
	dir := path.Join(b.prefix, t.String()) + "/"
	op := "list " + t.String()
	pager := b.container.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &dir, MaxResults: &listPageSize})
	for pager.More() {
		if err := b.slots.Acquire(ctx); err != nil {
			return err
		}
		page, err := pager.NextPage(ctx)
		b.slots.Release()
		if err != nil {
			return classify(ctx, op, err)
		}
		if page.Segment == nil {
			continue
		}
		for _, item := range page.Segment.BlobItems {
			fi, ok := listedFile(t, dir, item)
			if !ok {
				continue
			}
			if err := fn(fi); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// listedFile turns a listed blob under dir into the file it stores, if it
// is one.
func listedFile(t backend.FileType, dir string, item *container.BlobItem) (backend.FileInfo, bool) {
	if item == nil || item.Name == nil || item.Properties == nil || item.Properties.ContentLength == nil {
		return backend.FileInfo{}, false
	}
	rel, ok := strings.CutPrefix(*item.Name, dir)
	size := *item.Properties.ContentLength
	if !ok || size < 0 {
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
	return backend.FileInfo{Name: rel, Size: size}, true
}
