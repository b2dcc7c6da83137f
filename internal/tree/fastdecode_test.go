package tree_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/tree"
)

// FuzzDecodeFast holds the fast decoder to the encoding/json path:
// whatever it accepts, that path accepts too and decodes to the same Tree.
func FuzzDecodeFast(f *testing.F) {
	f.Add(seedTree(f))
	enc, err := benchTree().Encode(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	h := strings.Repeat("ab", 32)
	for _, s := range []string{
		"{\"nodes\":[]}\n", `{}`, `{"nodes":null}`, `null`, `{"nodes":[null]}`, `{"nodes":[{}]}`,
		`{"nodes":[{"name":"a","type":"file","mode":420,"mtime":"2024-01-02T03:04:05.5+01:00","atime":"2024-01-02T03:04:05.5+01:00",` +
			`"ctime":"2024-01-02T03:04:06Z","uid":0,"gid":4294967295,"user":"ü","inode":18446744073709551615,"size":0,"content":[]}]}`,
		`{"nodes":[{"name":"d","type":"dir","content":null,"subtree":"` + h + `"}]}`,
		`{"nodes":[{"name":"f","content":["` + h + `","` + h + `"]},{"name":"g","content":["` + h + `"]}]}`,
		`{"nodes":[{"name":"x","extended_attributes":[{"name":"user.a","value":"dg=="},{"name":"user.e","value":""},{"name":"n","value":null}]}]}`,
		`{"nodes":[{"name":"x","extended_attributes":[],"linktarget_raw":"","linktarget":"t","error":"e","device":7}]}`,
		`{"nodes":[{"name":"x","mode":-1}]}`, `{"nodes":[{"name":"x","uid":4294967296}]}`, `{"nodes":[{"name":"x","size":1e3}]}`,
		`{"nodes":[{"name":"x","size":01}]}`, `{"nodes":[{"Name":"x"}]}`, `{"nodes":[{"name":"a","name":"b"}]}`,
		`{"nodes":[{"name":"\u00e9"}]}`, "{\"nodes\":[{\"name\":\"\xff\"}]}", `{"nodes":[{"name":"a\\x00"}]}`,
		`{"nodes":[{"mtime":"2024-13-01T00:00:00Z"}]}`, `{"nodes":[{"content":[null]}]}`, `{"nodes":[{"subtree":"ABAB"}]}`,
		`{"nodes":[{"linktarget_raw":"!!"}]}`, ` { "nodes" : [ { "name" : "a" } ] } `, `{"nodes":[]} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := tree.DecodeFast(b)
		if err != nil {
			if err != tree.ErrNotFast {
				t.Fatalf("DecodeFast(%q) = %v, want nil or ErrNotFast", b, err)
			}
			return
		}
		want, err := tree.DecodeJSON(b)
		if err != nil {
			t.Fatalf("DecodeFast accepted %q, the encoding/json path says %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeFast(%q) = %+v, the encoding/json path gives %+v", b, got, want)
		}
	})
}

// TestDecodeFastTakesRestic checks that the fast path, not the fallback,
// decodes a typical tree as cairn and restic write it.
func TestDecodeFastTakesRestic(t *testing.T) {
	if _, err := tree.DecodeFast(mustEncode(t, benchTree())); err != nil {
		t.Fatalf("DecodeFast(bench tree) = %v", err)
	}
}

func mustEncode(t *testing.T, tr *tree.Tree) []byte {
	t.Helper()
	b, err := tr.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkDecodeJSON is BenchmarkDecode's tree through the encoding/json
// path, for comparison.
func BenchmarkDecodeJSON(b *testing.B) {
	buf := mustEncodeB(b, benchTree())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tree.DecodeJSON(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func mustEncodeB(b *testing.B, tr *tree.Tree) []byte {
	buf, err := tr.Encode(nil)
	if err != nil {
		b.Fatal(err)
	}
	return buf
}
