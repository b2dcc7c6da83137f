package index

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

func fastTestID(n int) id.ID {
	var x id.ID
	for i := range x {
		x[i] = byte(n*31 + i*7)
	}
	return x
}

// TestDecodeFastTakesWhatResticWrites checks that the index layout
// restic and cairn write (a JSON encoder's output, with and without
// supersedes and compression) goes through the fast decoder, not the
// fallback, and decodes to what encoding/json gives.
func TestDecodeFastTakesWhatResticWrites(t *testing.T) {
	f := &File{Packs: []Pack{
		{ID: fastTestID(1), Blobs: []blob.Blob{
			{Handle: blob.Handle{ID: fastTestID(2), Type: blob.Data}, Offset: 0, Length: 4294967295},
			{Handle: blob.Handle{ID: fastTestID(3), Type: blob.Tree}, Offset: 123, Length: 40, UncompressedLength: 80},
		}},
		{ID: fastTestID(4), Blobs: []blob.Blob{}},
	}}
	doc, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	docs := [][]byte{
		doc,
		[]byte(fmt.Sprintf(`{"supersedes":["%s"],"packs":[]}`, fastTestID(9))),
		[]byte(fmt.Sprintf("{ \"packs\" : [ { \"blobs\" : [ { \"length\" : 50 , \"type\" : \"data\" , \"offset\" : 7 , \"id\" : \"%s\" } ] , \"id\" : \"%s\" } ] }\n",
			fastTestID(5), fastTestID(6))),
		[]byte(`{}`),
	}
	for _, doc := range docs {
		got, err := decodeFast(doc)
		if err != nil {
			t.Fatalf("decodeFast(%s) = %v, want the fast path", doc, err)
		}
		var want File
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("decodeFast(%s) = %+v, encoding/json gives %+v", doc, got, want)
		}
	}
}

// TestDecodeFastDeclines lists documents the fast decoder must leave to
// encoding/json: valid ones it does not handle and invalid ones.
func TestDecodeFastDeclines(t *testing.T) {
	h := fastTestID(1).String()
	for _, doc := range []string{
		`null`, `[]`, ``, `{"packs":null}`, `{"Packs":[]}`, `{"packs":[],"packs":[]}`, `{"packs":[]} x`,
		`{"packs":[{"id":"` + h + `","blobs":[{"id":"` + h + `","type":"data","offset":01,"length":40}]}]}`,
		`{"packs":[{"id":"` + h + `","blobs":[{"id":"` + h + `","type":"data","offset":1e3,"length":40}]}]}`,
		`{"packs":[{"id":"` + h + `","blobs":[{"id":"` + h + `","type":"data","offset":4294967296,"length":40}]}]}`,
		`{"packs":[{"id":"` + h + `","blobs":[{"id":"` + h + `","type":"Data","offset":1,"length":40}]}]}`,
		`{"packs":[{"id":"\u0030` + h[1:] + `","blobs":[]}]}`,
		`{"packs":[{"id":"` + h + `","blobs":[],"extra":1}]}`,
		`{"packs":[{"id":"` + h[2:] + `","blobs":[]}]}`,
		`{"packs":[{"id":"` + h + `","blobs":[{"id":"` + h + `","type":"data","offset":-1,"length":40}]}]}`,
		`{"packs":[{"id":"` + h + `","blobs":[{"id":"` + h + `","type":"data","offset":1,"length":40,"length":41}]}]}`,
		`{"packs":[{"id":"` + h + `","blobs":[{"id":"` + h + `","type":"data","offset":1,"length":40},]}]}`,
	} {
		if f, err := decodeFast([]byte(doc)); err != errNotFast {
			t.Errorf("decodeFast(%s) = (%+v, %v), want errNotFast", doc, f, err)
		}
	}
}

// FuzzDecodeFast holds the fast decoder to encoding/json: whatever it
// accepts, encoding/json accepts too and decodes to the same File.
func FuzzDecodeFast(f *testing.F) {
	h := fastTestID(1).String()
	f.Add([]byte(`{"packs":[{"id":"` + h + `","blobs":[{"id":"` + h + `","type":"tree","offset":0,"length":40,"uncompressed_length":9}]}]}`))
	f.Add([]byte(`{"supersedes":["` + h + `"],"packs":[]}`))
	f.Add([]byte(" {\"packs\" :[ ] }\r\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := decodeFast(doc)
		if err != nil {
			if err != errNotFast {
				t.Fatalf("decodeFast() = %v, want nil or errNotFast", err)
			}
			return
		}
		var want File
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatalf("decodeFast accepted %q, encoding/json says %v", doc, err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("decodeFast(%q) = %+v, encoding/json gives %+v", doc, got, want)
		}
	})
}
