package blob_test

import (
	"encoding/json"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// indexEntry is the flat struct index files used to be written from; Blob
// must encode and decode exactly like it.
type indexEntry struct {
	ID                 id.ID     `json:"id"`
	Type               blob.Type `json:"type"`
	Offset             uint32    `json:"offset"`
	Length             uint32    `json:"length"`
	UncompressedLength uint32    `json:"uncompressed_length,omitempty"`
}

func TestBlobJSON(t *testing.T) {
	bid := id.Hash([]byte("blob"))
	for _, old := range []indexEntry{
		{ID: bid, Type: blob.Data, Offset: 0, Length: 100},
		{ID: bid, Type: blob.Tree, Offset: 4096, Length: 40, UncompressedLength: 70},
		{ID: bid, Type: blob.Data, Offset: 4294967295, Length: 4294967295, UncompressedLength: 4294967295},
	} {
		b := blob.Blob{Handle: blob.Handle{ID: old.ID, Type: old.Type}, Offset: old.Offset, Length: old.Length, UncompressedLength: old.UncompressedLength}
		want, err := json.Marshal([]indexEntry{old})
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal([]blob.Blob{b})
		if err != nil {
			t.Fatalf("Marshal(%+v) = %v", b, err)
		}
		if string(got) != string(want) {
			t.Errorf("Marshal(%+v) = %s, want %s", b, got, want)
		}
		var back []blob.Blob
		if err := json.Unmarshal(want, &back); err != nil || len(back) != 1 || back[0] != b {
			t.Errorf("Unmarshal(%s) = %+v, %v, want [%+v]", want, back, err, b)
		}
	}
}

func TestPlainSize(t *testing.T) {
	for _, tt := range []struct {
		b          blob.Blob
		compressed bool
		plain      uint32
	}{
		{blob.Blob{Length: 132}, false, 100},
		{blob.Blob{Length: 32}, false, 0},
		{blob.Blob{Length: 60, UncompressedLength: 500}, true, 500},
	} {
		if got := tt.b.IsCompressed(); got != tt.compressed {
			t.Errorf("%+v.IsCompressed() = %v, want %v", tt.b, got, tt.compressed)
		}
		if got := tt.b.PlainSize(); got != tt.plain {
			t.Errorf("%+v.PlainSize() = %d, want %d", tt.b, got, tt.plain)
		}
		pb := blob.PackedBlob{Blob: tt.b}
		if got := pb.PlainSize(); got != tt.plain {
			t.Errorf("PackedBlob(%+v).PlainSize() = %d, want %d", tt.b, got, tt.plain)
		}
	}
}
