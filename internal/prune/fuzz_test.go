package prune

import "testing"

// FuzzDecodeRecord: a pending record read from the repository never
// panics the decoder, and what it accepts encodes and decodes again.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"version":1,"created":"2026-12-01T10:00:00Z","packs":[]}`))
	f.Add([]byte(`{"version":1,"created":"2026-12-01T10:00:00Z","packs":[{"id":"` + "aa" + `","blobs":[{"type":"data"}]}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := DecodeRecord(doc)
		if err != nil {
			return
		}
		again, err := r.Encode()
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		if _, err := DecodeRecord(again); err != nil {
			t.Fatalf("re-encoded record rejected: %v\n%s", err, again)
		}
	})
}
