package repository

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
)

// TestLoadIndexFilesModes: one unusable index file fails the strict
// loaders, naming the file, and is set aside by the tolerant one.
func TestLoadIndexFilesModes(t *testing.T) {
	r := newTestRepository(t, 2)
	ctx := t.Context()
	pid := id.Hash([]byte("pack"))
	b := blob.Blob{Handle: blob.Handle{ID: id.Hash([]byte("blob")), Type: blob.Data}, Length: 100}
	doc, err := index.Encode(&index.File{Packs: []index.Pack{{ID: pid, Blobs: []blob.Blob{b}}}})
	if err != nil {
		t.Fatal(err)
	}
	good, err := r.SaveUnpacked(ctx, backend.IndexFile, doc)
	if err != nil {
		t.Fatalf("SaveUnpacked(index) = %v, want nil", err)
	}

	if pi, err := r.LoadPruneIndex(ctx); err != nil || !slices.Equal(pi.Files, []id.ID{good}) || len(pi.Packs) != 1 || !slices.Equal(pi.Packs[0].List(), []blob.Blob{b}) {
		t.Fatalf("LoadPruneIndex() = %+v, %v, want the one file and its pack", pi, err)
	}

	bad, err := r.SaveUnpacked(ctx, backend.IndexFile, []byte(`{"packs":[{"id":"`))
	if err != nil {
		t.Fatalf("SaveUnpacked(bad index) = %v, want nil", err)
	}
	for name, load := range map[string]func() error{
		"LoadIndex":      func() error { _, err := r.LoadIndex(ctx); return err },
		"LoadPruneIndex": func() error { _, err := r.LoadPruneIndex(ctx); return err },
	} {
		err := load()
		if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), "index "+bad.Str()+": ") {
			t.Errorf("%s() = %v, want ErrInvalidData naming index %v", name, err, bad.Str())
		}
	}

	c, err := r.LoadIndexForCheck(ctx)
	if err != nil {
		t.Fatalf("LoadIndexForCheck() = %v, want nil", err)
	}
	if c.Files != 2 || len(c.Bad) != 1 || c.Bad[0].ID != bad || !errors.Is(c.Bad[0].Err, ErrInvalidData) || strings.Contains(c.Bad[0].Err.Error(), bad.Str()) {
		t.Errorf("LoadIndexForCheck() = Files %d, Bad %+v, want 2 files and %v bad (its error not naming it)", c.Files, c.Bad, bad.Str())
	}
	if !slices.Equal(c.PackBlobs(pid), []blob.Blob{b}) || !slices.Equal(c.IndexFiles[pid], []id.ID{good}) {
		t.Errorf("LoadIndexForCheck() packs = %+v from %v, want %+v from %v", c.PackBlobs(pid), c.IndexFiles[pid], b, good)
	}
	if !r.HasBlob(b.Handle) {
		t.Errorf("HasBlob(%v) after LoadIndexForCheck = false, want true", b.Handle)
	}
}
