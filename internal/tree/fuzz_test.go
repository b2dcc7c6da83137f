package tree_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

// specialNames are file names that exercise the name quoting.
var specialNames = []string{
	`quote"d`, `back\slash`, `<&>`, "ünïcödé 日本語", "melting \U0001FAE0", "\xff\xfe latin1",
	"ctl\x01\x7f\ttab", "new\nline", "a\u00a0b\u2028c", " lead and trail ", "-", "\ufffd",
	strings.Repeat("L", 200),
}

// seedTree is a small tree in restic's format with most kinds of node.
func seedTree(t testing.TB) []byte {
	mt := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.FixedZone("", 3600))
	sub := id.Hash([]byte("sub"))
	tr := tree.Tree{Nodes: []*tree.Node{
		{Name: "a\u00a0\xff<&>\"\\", Type: tree.TypeFile, Mode: 0o644, ModTime: mt, AccessTime: mt, ChangeTime: mt, User: "root",
			Inode: 1, DeviceID: 2, Size: 3, Links: 1, Content: []id.ID{id.Hash([]byte("x"))},
			ExtendedAttributes: []tree.ExtendedAttribute{{"user.a", []byte("v")}, {"user.e", []byte{}}, {"user.n", nil}}},
		{Name: "d", Type: tree.TypeDir, Mode: 0o755 | 1<<31, ModTime: mt, AccessTime: mt, ChangeTime: mt, Subtree: &sub},
		{Name: "l", Type: tree.TypeSymlink, LinkTarget: "t\b\f\xfe\u2028", LinkTargetRaw: []byte{0xfe}, Error: "e"},
	}}
	b, err := tr.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecode checks that Decode never panics, and that whatever it accepts
// encodes without error to bytes that survive another round unchanged.
func FuzzDecode(f *testing.F) {
	f.Add(seedTree(f))
	for _, s := range []string{
		"{\"nodes\":[]}\n", `null`, `{"nodes":[null]}`, `{"nodes":[{"name":"\\"}]}`,
		`{"nodes":[{"name":"x","linktarget":"\ud800\udc00\ud800A\ufffd\uFFFD"}]}`,
		`{"nodes":[{"mtime":"0000-01-01T00:00:00+23:59","atime":"9999-12-31T23:59:59.999999999-23:59"}]}`,
		`{"nodes":[{"content":[],"extended_attributes":[],"linktarget_raw":""}]}`,
		`{"NODES":[{"NAME":"upper","Type":"x"}]}`, `{"nodes":[{"name":"a","name":"b"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := tree.Decode(b)
		if err != nil {
			return
		}
		enc, err := tr.Encode(nil)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)) = %v", b, err)
		}
		tr2, err := tree.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%q) = %v, from Encode(Decode(%q))", enc, err, b)
		}
		enc2, err := tr2.Encode(nil)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("second round trip of %q gave %q, %v", enc, enc2, err)
		}
	})
}

// FuzzQuotedName checks the name encoding against strconv.Quote and
// encoding/json wherever today's Unicode tables agree with Go 1.19's, and
// that it always unquotes to the original bytes.
func FuzzQuotedName(f *testing.F) {
	for _, s := range specialNames {
		f.Add(s)
	}
	f.Add("\U0001FAE0\u0870\a\b\v\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, s string) {
		got := tree.AppendQuotedName(nil, s)
		var inner string
		if err := json.Unmarshal(got, &inner); err != nil {
			t.Fatalf("AppendQuotedName(%q) = %s, not JSON: %v", s, got, err)
		}
		back, err := strconv.Unquote(`"` + inner + `"`)
		if err != nil || back != s {
			t.Fatalf("AppendQuotedName(%q) = %s, unquotes to %q, %v", s, got, back, err)
		}
		for _, r := range s {
			if r != '\ufffd' && tree.IsPrint(r) != strconv.IsPrint(r) {
				return // differs from today's strconv on purpose
			}
		}
		q := strconv.Quote(s)
		want, _ := json.Marshal(q[1 : len(q)-1])
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendQuotedName(%q) = %s, want %s", s, got, want)
		}
	})
}

// FuzzString checks the JSON string encoding against encoding/json (which
// since Go 1.22 writes \b and \f where Go 1.19 wrote \u0008 and \u000c),
// and that DecodeText inverts it up to the bytes that are not UTF-8.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>\u2028\u2029\x7f", "\b\f\n\r\t\x00\x1f", "\xff\xfe\ufffd", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := tree.AppendString(nil, s)
		if !strings.ContainsAny(s, "\b\f") {
			want, _ := json.Marshal(s)
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
			}
		}
		back, err := tree.DecodeText(got)
		if err != nil {
			t.Fatalf("DecodeText(%s) = %v", got, err)
		}
		if again := tree.AppendString(nil, back); !bytes.Equal(again, got) {
			t.Fatalf("AppendString(DecodeText(%s)) = %s", got, again)
		}
	})
}
