package snapshot_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// FuzzDecode checks that Decode never panics, fails only with ErrInvalid,
// and that whatever it accepts encodes and decodes back to the same value
// (empty and nil slices count as equal: omitempty drops both).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(resticDoc))
	f.Add([]byte(`{"time":"2020-01-02T03:04:05Z","tree":"` + hexTree + `","paths":null,"summary":{"files_new":1}}`))
	f.Add([]byte(`{"tree":"` + hexTree + `"}`))
	f.Add([]byte(`{}`))
	// What cairn's own encoder writes, every field set.
	s, err := snapshot.New([]string{"/home/u", "/etc"}, []string{"daily", "a,b"}, "host", time.Date(2026, 12, 4, 23, 0, 0, 123456789, time.FixedZone("", 3600)))
	if err != nil {
		f.Fatal(err)
	}
	tree, parent := id.ID{1, 2}, id.ID{3}
	s.Tree, s.Parent, s.Original = &tree, &parent, &parent
	s.Excludes, s.ProgramVersion = []string{"*.tmp"}, "cairn 0.1"
	s.Summary = &snapshot.Summary{BackupStart: s.Time, BackupEnd: s.Time.Add(time.Minute), FilesNew: 3, DataBlobs: 2, DataAdded: 1 << 40, TotalBytesProcessed: 7}
	for _, snap := range []*snapshot.Snapshot{s, {Time: s.Time, Tree: &tree, Paths: []string{"/"}}} {
		doc, err := snap.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := snapshot.Decode(doc, id.ID{1})
		if err != nil {
			if !errors.Is(err, snapshot.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		enc, err := s.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded snapshot: %v", err)
		}
		back, err := snapshot.Decode(enc, s.ID)
		if err != nil {
			t.Fatalf("Decode(Encode(s)) = %v for %s", err, enc)
		}
		if diff := cmp.Diff(s, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip differs (-first +second):\n%s", diff)
		}
	})
}
