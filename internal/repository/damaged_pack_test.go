package repository_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/repository"
)

// cutPack replaces pack p by its first n bytes.
func cutPack(t *testing.T, be backend.Backend, p index.Pack, n int) {
	t.Helper()
	h := backend.Handle{Type: backend.PackFile, Name: p.ID.String()}
	raw, err := backend.LoadAll(t.Context(), be, h)
	if err != nil {
		t.Fatalf("LoadAll(%v) = %v", h, err)
	}
	if err := be.Remove(t.Context(), h); err != nil {
		t.Fatalf("Remove(%v) = %v", h, err)
	}
	save(t, be, h, raw[:n])
}

// threeBlobPack saves a pack of three data blobs and its index, and cuts
// the pack in the middle of the second blob.
func threeBlobPack(t *testing.T) (*repository.Repository, []testBlob, index.Pack) {
	t.Helper()
	be := mem.New()
	r := initRepo(t, be, 2, "secret")
	blobs := []testBlob{
		{typ: blob.Data, plain: randomBytes(t, 1000)},
		{typ: blob.Data, plain: randomBytes(t, 2000)},
		{typ: blob.Data, plain: randomBytes(t, 3000)},
	}
	p := savePack(t, r, blobs...)
	saveIndex(t, r, p)
	b := p.Blobs[1]
	cutPack(t, be, p, int(b.Offset+b.Length/2))
	return r, blobs, p
}

// TestStreamPackCutPack: a read of several blobs of a pack cut short is
// tried again blob by blob: the blob before the cut is delivered, the two
// after it come with an error each, and StreamPack itself succeeds.
func TestStreamPackCutPack(t *testing.T) {
	r, blobs, p := threeBlobPack(t)
	var locs []blob.PackedBlob
	for _, b := range p.Blobs {
		locs = append(locs, blob.PackedBlob{Blob: b, PackID: p.ID})
	}
	var got [][]byte
	var errs []error
	err := r.StreamPack(t.Context(), locs, func(_ blob.PackedBlob, plain []byte, err error) error {
		got = append(got, bytes.Clone(plain))
		errs = append(errs, err)
		return nil
	})
	if err != nil {
		t.Fatalf("StreamPack() = %v, want nil", err)
	}
	if len(got) != 3 || !bytes.Equal(got[0], blobs[0].plain) || errs[0] != nil || errs[1] == nil || errs[2] == nil {
		t.Fatalf("StreamPack delivered %d blobs, errors %v; want the first intact and two errors", len(got), errs)
	}

	// An error of fn still stops it, passed back as it is.
	stop := errors.New("stop")
	n := 0
	err = r.StreamPack(t.Context(), locs, func(blob.PackedBlob, []byte, error) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("StreamPack with a failing fn = %v after %d calls, want stop after 1", err, n)
	}
}

// TestRebuildIndexKeepsBlobsOfBadHeader: a pack whose header cannot be
// read (these test packs have none) keeps, in the rebuilt index, the
// blobs the old index lists within its size; the others are dropped.
func TestRebuildIndexKeepsBlobsOfBadHeader(t *testing.T) {
	r, blobs, p := threeBlobPack(t)
	rep, err := r.RebuildIndex(t.Context(), nil)
	if err != nil {
		t.Fatalf("RebuildIndex() = %v", err)
	}
	if len(rep.BadPacks) != 1 || rep.Kept[p.ID] != 1 || rep.Blobs != 1 {
		t.Fatalf("RebuildIndex() = %+v, want one bad pack with 1 blob kept", rep)
	}
	if _, err := r.LoadIndex(t.Context()); err != nil {
		t.Fatalf("LoadIndex() = %v", err)
	}
	if got, err := r.LoadBlob(t.Context(), blobs[0].handle()); err != nil || !bytes.Equal(got, blobs[0].plain) {
		t.Errorf("LoadBlob(kept) = %v, want the blob", err)
	}
	if _, err := r.LoadBlob(t.Context(), blobs[2].handle()); err == nil {
		t.Errorf("LoadBlob(beyond the cut) = nil error, want not found")
	}
}
