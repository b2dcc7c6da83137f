package snapshot_test

import (
	"errors"
	"testing"

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
