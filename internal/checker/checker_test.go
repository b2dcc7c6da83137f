package checker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/checker"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
)

func open(t *testing.T, be backend.Backend) *repository.Repository {
	t.Helper()
	r, err := repository.Open(t.Context(), be, "pw", repository.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r
}

func newBackend(t *testing.T) backend.Backend {
	t.Helper()
	kp, err := repository.FixedKeyParams(1024, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	be := mem.New()
	if _, err := repository.Init(t.Context(), be, "pw", repository.InitOptions{Version: 2, Params: kp}, repository.Options{}); err != nil {
		t.Fatal(err)
	}
	return be
}

// write stores blobs of type t in one write session of r.
func write(t *testing.T, r *repository.Repository, typ blob.Type, blobs ...[]byte) []id.ID {
	t.Helper()
	if err := r.StartWriting(t.Context(), repository.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var ids []id.ID
	for _, b := range blobs {
		bid, _, _, err := r.SaveBlob(t.Context(), typ, b, id.ID{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, bid)
	}
	if _, err := r.Finish(t.Context()); err != nil {
		t.Fatal(err)
	}
	return ids
}

// addSnapshot stores a snapshot of one file with the given content.
func addSnapshot(t *testing.T, r *repository.Repository, content []id.ID) {
	t.Helper()
	tr := &tree.Tree{Nodes: []*tree.Node{{Name: "file", Type: tree.TypeFile, Content: content, ModTime: time.Unix(0, 0)}}}
	buf, err := tr.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	tid := write(t, r, blob.Tree, buf)[0]
	sn := &snapshot.Snapshot{Time: time.Unix(1, 0).UTC(), Tree: &tid, Paths: []string{"/"}}
	doc, err := sn.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveUnpacked(t.Context(), backend.SnapshotFile, doc); err != nil {
		t.Fatal(err)
	}
}

// runAll runs every phase, reading all packs, and returns the findings.
func runAll(t *testing.T, be backend.Backend) (hints, errs []string) {
	t.Helper()
	r, err := repository.Open(t.Context(), be, "pw", repository.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := checker.New(r, func(f checker.Finding) {
		if f.Severity == checker.Error {
			errs = append(errs, f.String())
		} else {
			hints = append(hints, f.String())
		}
	})
	for _, phase := range []func() error{
		func() error { return c.LoadIndex(t.Context()) },
		func() error { return c.Packs(t.Context()) },
		func() error { return c.Structure(t.Context()) },
		func() error {
			return c.ReadPacks(t.Context(), checker.All.Select(c.IndexedPacks(), nil), nil)
		},
	} {
		if err := phase(); err != nil {
			t.Fatal(err)
		}
	}
	if c.Errors() != len(errs) {
		t.Errorf("Errors() = %d, but %d errors reported", c.Errors(), len(errs))
	}
	return hints, errs
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestCheckEmptyAndClean(t *testing.T) {
	be := newBackend(t)
	if hints, errs := runAll(t, be); len(hints)+len(errs) != 0 {
		t.Errorf("empty repository: hints %q, errors %q", hints, errs)
	}
	r := open(t, be)
	ids := write(t, r, blob.Data, []byte("one"), []byte("two"))
	addSnapshot(t, r, ids)
	if hints, errs := runAll(t, be); len(hints)+len(errs) != 0 {
		t.Errorf("clean repository: hints %q, errors %q", hints, errs)
	}
}

// TestCheckDuplicates: a blob stored twice and a pack indexed twice are
// hints, not errors.
func TestCheckDuplicates(t *testing.T) {
	be := newBackend(t)
	r1, r2 := open(t, be), open(t, be) // neither sees what the other writes
	ids := write(t, r1, blob.Data, []byte("same"))
	write(t, r2, blob.Data, []byte("same"))
	addSnapshot(t, r1, ids)

	// Index one pack a second time.
	var first id.ID
	_ = be.List(t.Context(), backend.IndexFile, func(fi backend.FileInfo) error {
		first, _ = id.Parse(fi.Name)
		return nil
	})
	doc, err := r1.LoadUnpacked(t.Context(), backend.IndexFile, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r1.SaveUnpacked(t.Context(), backend.IndexFile, doc); err != nil {
		t.Fatal(err)
	}

	hints, errs := runAll(t, be)
	if len(errs) != 0 {
		t.Errorf("errors: %q", errs)
	}
	for _, want := range []string{"1 blobs are stored in more than one pack", "listed in 2 index files"} {
		if !contains(hints, want) {
			t.Errorf("hints %q lack %q", hints, want)
		}
	}
}

// TestCheckIndexDisagreesWithHeader: an index entry with the wrong length
// makes the pack size and the header disagree with the index.
func TestCheckIndexDisagreesWithHeader(t *testing.T) {
	be := newBackend(t)
	r := open(t, be)
	ids := write(t, r, blob.Data, []byte("payload"))
	addSnapshot(t, r, ids)

	var idxIDs []id.ID
	_ = be.List(t.Context(), backend.IndexFile, func(fi backend.FileInfo) error {
		v, _ := id.Parse(fi.Name)
		idxIDs = append(idxIDs, v)
		return nil
	})
	for _, fid := range idxIDs {
		doc, err := r.LoadUnpacked(t.Context(), backend.IndexFile, fid)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), ids[0].String()) {
			continue
		}
		// The blob is stored compressed or not; either way its length
		// field follows "length":.
		bad := strings.Replace(string(doc), `"length":`, `"length":1`, 1)
		if _, err := r.SaveUnpacked(t.Context(), backend.IndexFile, []byte(bad)); err != nil {
			t.Fatal(err)
		}
		if err := be.Remove(t.Context(), backend.Handle{Type: backend.IndexFile, Name: fid.String()}); err != nil {
			t.Fatal(err)
		}
	}
	_, errs := runAll(t, be)
	for _, want := range []string{"the index expects", "is in the index but not in the pack header", "is in the pack header but not in the index"} {
		if !contains(errs, want) {
			t.Errorf("errors %q lack %q", errs, want)
		}
	}
}
