package index_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/google/go-cmp/cmp"
)

// testID returns a distinct, recognisable ID for each n.
func testID(n int) id.ID { return id.Hash(fmt.Append(nil, n)) }

// blobJSON is one entry of the blobs array; extra is spliced in verbatim.
func blobJSON(bid id.ID, typ string, offset, length, ulen uint32, extra string) string {
	s := fmt.Sprintf(`{"id":%q,"type":%q,"offset":%d,"length":%d`, bid, typ, offset, length)
	if ulen != 0 {
		s += fmt.Sprintf(`,"uncompressed_length":%d`, ulen)
	}
	return s + extra + "}"
}

func packJSON(pid id.ID, blobs ...string) string {
	return fmt.Sprintf(`{"id":%q,"blobs":[%s]}`, pid, strings.Join(blobs, ","))
}

func indexJSON(packs ...string) []byte {
	return []byte(`{"packs":[` + strings.Join(packs, ",") + "]}\n")
}

func TestDecode(t *testing.T) {
	p1, p2 := testID(1), testID(2)
	b1, b2, b3 := testID(11), testID(12), testID(13)
	v2doc := indexJSON(
		packJSON(p1,
			blobJSON(b1, "data", 0, 100, 0, ""),
			blobJSON(b2, "data", 100, 50, 400, "")),
		packJSON(p2,
			blobJSON(b3, "tree", 0, 32, 0, "")),
	)
	want := &index.File{Packs: []index.Pack{
		{ID: p1, Blobs: []blob.Blob{
			{Handle: blob.Handle{ID: b1, Type: blob.Data}, Offset: 0, Length: 100},
			{Handle: blob.Handle{ID: b2, Type: blob.Data}, Offset: 100, Length: 50, UncompressedLength: 400},
		}},
		{ID: p2, Blobs: []blob.Blob{
			{Handle: blob.Handle{ID: b3, Type: blob.Tree}, Offset: 0, Length: 32},
		}},
	}}
	got, err := index.Decode(v2doc, 2)
	if err != nil {
		t.Fatalf("Decode(v2 index, 2) = %v, want nil", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode(v2 index, 2) mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name    string
		doc     []byte
		version uint
		wantErr bool
	}{
		{"v2 with uncompressed_length", v2doc, 2, false},
		{"v1 rejects compressed entry", v2doc, 1, true},
		{"v1 uncompressed", indexJSON(packJSON(p1, blobJSON(b1, "data", 0, 100, 0, ""))), 1, false},
		{"explicit zero uncompressed_length in v1", indexJSON(packJSON(p1, blobJSON(b1, "data", 0, 100, 0, `,"uncompressed_length":0`))), 1, false},
		{"supersedes", []byte(fmt.Sprintf(`{"supersedes":[%q],"packs":[%s]}`, testID(99), packJSON(p1, blobJSON(b1, "tree", 0, 40, 0, "")))), 2, false},
		{"unknown keys", []byte(fmt.Sprintf(`{"future":{"a":[1]},"packs":[{"id":%q,"size":7,"blobs":[%s]}]}`, p1, blobJSON(b1, "data", 0, 40, 0, `,"flags":"x"`))), 2, false},
		{"no packs", []byte(`{"packs":[]}`), 1, false},
		{"null packs", []byte(`{"packs":null}`), 2, false},
		{"empty object", []byte(`{}`), 2, false},
		{"pack without blobs", []byte(fmt.Sprintf(`{"packs":[{"id":%q}]}`, p1)), 2, false},
		{"bad type", indexJSON(packJSON(p1, blobJSON(b1, "blob", 0, 100, 0, ""))), 2, true},
		{"empty type", indexJSON(packJSON(p1, blobJSON(b1, "", 0, 100, 0, ""))), 2, true},
		{"missing type", []byte(fmt.Sprintf(`{"packs":[{"id":%q,"blobs":[{"id":%q,"offset":0,"length":100}]}]}`, p1, b1)), 2, true},
		{"numeric type", []byte(fmt.Sprintf(`{"packs":[{"id":%q,"blobs":[{"id":%q,"type":1,"offset":0,"length":100}]}]}`, p1, b1)), 2, true},
		{"length 31", indexJSON(packJSON(p1, blobJSON(b1, "data", 0, 31, 0, ""))), 2, true},
		{"length 0", indexJSON(packJSON(p1, blobJSON(b1, "data", 0, 0, 0, ""))), 2, true},
		{"missing length", []byte(fmt.Sprintf(`{"packs":[{"id":%q,"blobs":[{"id":%q,"type":"data","offset":0}]}]}`, p1, b1)), 2, true},
		{"negative offset", indexJSON(packJSON(p1, blobJSON(b1, "data", 0, 40, 0, `,"offset":-1`))), 2, true},
		{"length beyond uint32", indexJSON(packJSON(p1, blobJSON(b1, "data", 0, 40, 0, `,"length":4294967296`))), 2, true},
		{"short pack id", []byte(`{"packs":[{"id":"abcd","blobs":[]}]}`), 2, true},
		{"non-hex blob id", indexJSON(packJSON(p1, strings.Replace(blobJSON(b1, "data", 0, 40, 0, ""), b1.String()[:2], "zz", 1))), 2, true},
		{"not JSON", []byte(`{"packs":[`), 2, true},
		{"array", []byte(`[]`), 2, true},
		{"empty", nil, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := index.Decode(tt.doc, tt.version)
			if (err != nil) != tt.wantErr {
				t.Errorf("Decode(%s, %d) = (%+v, %v), want error %v", tt.doc, tt.version, f, err, tt.wantErr)
			}
			if err != nil && f != nil {
				t.Errorf("Decode(%s, %d) = (%+v, %v), want a nil file with the error", tt.doc, tt.version, f, err)
			}
		})
	}
}

func dataHandle(n int) blob.Handle { return blob.Handle{ID: testID(n), Type: blob.Data} }

func TestIndex(t *testing.T) {
	p1, p2 := testID(1), testID(2)
	shared := dataHandle(10) // in both packs
	only1 := dataHandle(11)
	asTree := blob.Handle{ID: shared.ID, Type: blob.Tree} // same ID, other type
	f1 := &index.File{Packs: []index.Pack{{ID: p1, Blobs: []blob.Blob{
		{Handle: blob.Handle{ID: shared.ID, Type: blob.Data}, Offset: 0, Length: 40},
		{Handle: blob.Handle{ID: only1.ID, Type: blob.Data}, Offset: 40, Length: 50},
	}}}}
	f2 := &index.File{Packs: []index.Pack{{ID: p2, Blobs: []blob.Blob{
		{Handle: blob.Handle{ID: shared.ID, Type: blob.Data}, Offset: 8, Length: 36, UncompressedLength: 90},
		{Handle: blob.Handle{ID: asTree.ID, Type: blob.Tree}, Offset: 44, Length: 60},
	}}}}

	x := index.New()
	if x.Len() != 0 || x.Has(shared) || x.Lookup(shared) != nil {
		t.Fatalf("New() = Len %d, Has %v, Lookup %v, want an empty index", x.Len(), x.Has(shared), x.Lookup(shared))
	}
	x.AddFile(f1)
	x.AddFile(f2)
	x.AddFile(f1) // the same file again adds nothing

	lookups := []struct {
		h    blob.Handle
		want []blob.PackedBlob
	}{
		{shared, []blob.PackedBlob{
			{Blob: blob.Blob{Handle: shared, Offset: 0, Length: 40}, PackID: p1},
			{Blob: blob.Blob{Handle: shared, Offset: 8, Length: 36, UncompressedLength: 90}, PackID: p2},
		}},
		{only1, []blob.PackedBlob{{Blob: blob.Blob{Handle: only1, Offset: 40, Length: 50}, PackID: p1}}},
		{asTree, []blob.PackedBlob{{Blob: blob.Blob{Handle: asTree, Offset: 44, Length: 60}, PackID: p2}}},
		{dataHandle(12), nil},
		{blob.Handle{ID: only1.ID, Type: blob.Tree}, nil},
	}
	for _, tt := range lookups {
		if diff := cmp.Diff(tt.want, x.Lookup(tt.h)); diff != "" {
			t.Errorf("Lookup(%v) mismatch (-want +got):\n%s", tt.h, diff)
		}
		if got := x.Has(tt.h); got != (tt.want != nil) {
			t.Errorf("Has(%v) = %v, want %v", tt.h, got, tt.want != nil)
		}
	}
	if got := x.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
	seen := make(map[blob.Handle]int)
	x.Each(func(h blob.Handle) { seen[h]++ })
	wantSeen := map[blob.Handle]int{shared: 1, only1: 1, asTree: 1}
	if diff := cmp.Diff(wantSeen, seen); diff != "" {
		t.Errorf("Each() visits mismatch (-want +got):\n%s", diff)
	}
}

// TestIndexDedup checks that an entry listed twice, in one file or in two,
// is one copy, while the same blob at another offset is a second copy.
func TestIndexDedup(t *testing.T) {
	p := testID(1)
	h := dataHandle(10)
	e := blob.Blob{Handle: blob.Handle{ID: h.ID, Type: blob.Data}, Offset: 0, Length: 40}
	moved := e
	moved.Offset = 100
	x := index.New()
	x.AddFile(&index.File{Packs: []index.Pack{{ID: p, Blobs: []blob.Blob{e, e}}}})
	x.AddFile(&index.File{Packs: []index.Pack{{ID: p, Blobs: []blob.Blob{e}}}, Supersedes: []id.ID{testID(5)}})
	want := []blob.PackedBlob{{Blob: blob.Blob{Handle: h, Offset: 0, Length: 40}, PackID: p}}
	if diff := cmp.Diff(want, x.Lookup(h)); diff != "" {
		t.Errorf("Lookup() after duplicate entries mismatch (-want +got):\n%s", diff)
	}
	x.AddFile(&index.File{Packs: []index.Pack{{ID: p, Blobs: []blob.Blob{moved}}}})
	want = append(want, blob.PackedBlob{Blob: blob.Blob{Handle: h, Offset: 100, Length: 40}, PackID: p})
	if diff := cmp.Diff(want, x.Lookup(h)); diff != "" {
		t.Errorf("Lookup() after a second copy mismatch (-want +got):\n%s", diff)
	}
	if x.Len() != 1 {
		t.Errorf("Len() = %d, want 1", x.Len())
	}
}

// TestIndexConcurrent is meant for -race: readers run while files are added.
func TestIndexConcurrent(t *testing.T) {
	x := index.New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				n := w*1000 + i
				x.AddFile(&index.File{Packs: []index.Pack{{ID: testID(n), Blobs: []blob.Blob{
					{Handle: blob.Handle{ID: testID(i), Type: blob.Data}, Offset: uint32(w), Length: 40},
				}}}})
			}
		})
		wg.Go(func() {
			for i := range 50 {
				for _, e := range x.Lookup(dataHandle(i)) {
					_ = e.Length
				}
				x.Has(dataHandle(i))
				x.Len()
				x.Each(func(blob.Handle) {})
			}
		})
	}
	wg.Wait()
	if got := x.Len(); got != 50 {
		t.Errorf("Len() = %d, want 50", got)
	}
	for i := range 50 {
		if got := len(x.Lookup(dataHandle(i))); got != 4 {
			t.Errorf("len(Lookup(%v)) = %d, want 4 (one per writer)", dataHandle(i), got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	p, b := testID(1), testID(2)
	for _, seed := range []struct {
		doc     []byte
		version uint
	}{
		{indexJSON(packJSON(p, blobJSON(b, "data", 0, 100, 0, ""), blobJSON(testID(3), "tree", 100, 40, 80, ""))), 2},
		{indexJSON(packJSON(p, blobJSON(b, "data", 0, 100, 0, ""), blobJSON(testID(3), "tree", 100, 40, 80, ""))), 1},
		{indexJSON(packJSON(p, blobJSON(b, "data", 0, 100, 0, ""), blobJSON(b, "data", 0, 100, 0, ""))), 1},
		{[]byte(fmt.Sprintf(`{"supersedes":[%q],"packs":[]}`, b)), 2},
		{indexJSON(packJSON(p, blobJSON(b, "bogus", 0, 100, 0, ""))), 2},
		{indexJSON(packJSON(p, blobJSON(b, "data", 0, 31, 0, ""))), 2},
		{indexJSON(packJSON(p, blobJSON(b, "data", 4294967295, 4294967295, 4294967295, ""))), 2},
		{[]byte(`{"packs":[{"id":null,"blobs":[{"id":null,"type":null}]}]}`), 2},
		{[]byte(`{"packs":[`), 2},
		{[]byte(`null`), 2},
		{[]byte(`[]`), 0},
		{nil, 3},
	} {
		f.Add(seed.doc, seed.version)
	}
	// What the encoder writes: compressed and plain blobs of both types,
	// several packs; and a file with no packs.
	for _, file := range []*index.File{
		{Packs: []index.Pack{
			{ID: p, Blobs: []blob.Blob{
				{Handle: blob.Handle{ID: b, Type: blob.Data}, Offset: 0, Length: 100},
				{Handle: blob.Handle{ID: testID(3), Type: blob.Tree}, Offset: 100, Length: 40, UncompressedLength: 80},
			}},
			{ID: testID(4), Blobs: []blob.Blob{{Handle: blob.Handle{ID: testID(5), Type: blob.Data}, Offset: 0, Length: 4294967295}}},
		}},
		{},
	} {
		doc, err := index.Encode(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc, uint(2))
	}

	f.Fuzz(func(t *testing.T, doc []byte, version uint) {
		file, err := index.Decode(doc, version)
		if err != nil {
			if file != nil {
				t.Errorf("Decode() = (%+v, %v), want a nil file with the error", file, err)
			}
			return
		}
		x := index.New()
		x.AddFile(file)
		for _, p := range file.Packs {
			for _, b := range p.Blobs {
				if b.Type != blob.Data && b.Type != blob.Tree {
					t.Errorf("Decode() accepted blob %v with type %v", b.ID.Str(), b.Type)
				}
				if b.Length < 32 {
					t.Errorf("Decode() accepted blob %v with length %d", b.ID.Str(), b.Length)
				}
				if b.UncompressedLength != 0 && version < 2 {
					t.Errorf("Decode(_, %d) accepted compressed blob %v", version, b.ID.Str())
				}
				h := b.Handle
				want := blob.PackedBlob{Blob: b, PackID: p.ID}
				n := 0
				for _, e := range x.Lookup(h) {
					if e == want {
						n++
					}
				}
				if n != 1 {
					t.Errorf("Lookup(%v) holds %d copies of %+v, want 1", h, n, want)
				}
			}
		}
	})
}
