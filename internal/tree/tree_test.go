package tree_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

func names(t *tree.Tree) []string {
	var out []string
	for _, n := range t.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestInsertKeepsByteOrder(t *testing.T) {
	in := []string{"b", "a", "ä", "B", "a b", "ab", "", "\xff", "Z", "a\x00"}
	want := slices.Clone(in)
	slices.Sort(want) // Go string order is byte order
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		order := slices.Clone(in)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var tr tree.Tree
		for _, name := range order {
			if err := tr.Insert(&tree.Node{Name: name}); err != nil {
				t.Fatalf("Insert(%q) = %v", name, err)
			}
		}
		if got := names(&tr); !slices.Equal(got, want) {
			t.Fatalf("order %q: names = %q, want %q", order, got, want)
		}
	}
}

func TestInsertRejectsDuplicates(t *testing.T) {
	var tr tree.Tree
	first := &tree.Node{Name: "x", Type: tree.TypeFile}
	for _, n := range []*tree.Node{first, {Name: "a"}, {Name: "z"}} {
		if err := tr.Insert(n); err != nil {
			t.Fatalf("Insert(%q) = %v", n.Name, err)
		}
	}
	err := tr.Insert(&tree.Node{Name: "x", Type: tree.TypeDir})
	if !errors.Is(err, tree.ErrDuplicate) {
		t.Fatalf("Insert(duplicate) = %v, want an error matching ErrDuplicate", err)
	}
	if got := tr.Find("x"); got != first {
		t.Errorf("Find(x) = %+v, want the first node", got)
	}
	if len(tr.Nodes) != 3 {
		t.Errorf("len(Nodes) = %d after a rejected insert, want 3", len(tr.Nodes))
	}
	if got := tr.Find("y"); got != nil {
		t.Errorf("Find(y) = %+v, want nil", got)
	}
}

// TestQuotedName pins the name encoding with outputs taken from trees the
// restic 0.14.0 binary wrote.
func TestQuotedName(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "hello.txt", `"hello.txt"`},
		{"empty", "", `""`},
		{"quote backslash html", `q"b\\<&>`, `"q\\\"b\\\\\\\\\u003c\u0026\u003e"`},
		{"invalid byte", "\xff", `"\\xff"`},
		{"no-break space", "a\u00a0b", `"a\\u00a0b"`},
		{"unicode 14 emoji", "\U0001FAE0melt", `"\\U0001fae0melt"`},
		{"printable unicode", "ünïcödé 日本語 \U0001F600", "\"ünïcödé 日本語 \U0001F600\""},
		{"short escapes", "\a\b\f\n\r\t\v", `"\\a\\b\\f\\n\\r\\t\\v"`},
		{"other controls", "\x01\x1f\x7f", `"\\x01\\x1f\\x7f"`},
		{"line separator", "\u2028\u2029", `"\\u2028\\u2029"`},
		{"encoded surrogate", "\xed\xa0\x80", `"\\xed\\xa0\\x80"`},
		{"valid replacement char", "\ufffd", "\"\ufffd\""},
		{"max rune unassigned", "\U0010FFFF", `"\\U0010ffff"`},
		{"truncated utf8", "a\xe6\x97", `"a\\xe6\\x97"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(tree.AppendQuotedName(nil, tc.in))
			if got != tc.want {
				t.Errorf("AppendQuotedName(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// TestString pins the Go 1.19 JSON string rules that differ from today's
// encoding/json, with outputs taken from restic 0.14.0 trees.
func TestString(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"backspace formfeed invalid", "tgt\b\f\xfe", `"tgt\u0008\u000c\ufffd"`},
		{"del and line separator", "a\x7fb\u2028c", "\"a\x7fb\\u2028c\""},
		{"html", "<&>", `"\u003c\u0026\u003e"`},
		{"short", "\"\\\n\r\t", `"\"\\\n\r\t"`},
		{"nul", "\x00", `"\u0000"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tree.AppendString(nil, tc.in)); got != tc.want {
				t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func mustID(t testing.TB, s string) id.ID {
	t.Helper()
	v, err := id.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestEncodeNode pins whole nodes; the expected bytes are from restic 0.14.0.
func TestEncodeNode(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	sub := mustID(t, "ac08ce34ba4f8123618661bef2425f7028ffb9ac740578a3ee88684d2523fee8")
	mt := utc("2021-03-04T05:06:07.123456789Z")
	for _, tc := range []struct {
		name string
		node tree.Node
		want string
	}{
		{
			name: "file with xattrs",
			node: tree.Node{
				Name: "small", Type: "file", Mode: 8389101, ModTime: mt, AccessTime: mt,
				ChangeTime: utc("2026-11-25T14:49:03.770087943Z"), User: "root", Group: "root",
				Inode: 9994992, DeviceID: 65024, Size: 3, Links: 1,
				ExtendedAttributes: []tree.ExtendedAttribute{{"user.zz", []byte("1")}, {"user.aa", []byte("2")}, {"user.mm", []byte{}}},
				Content:            []id.ID{mustID(t, "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4")},
			},
			want: `{"name":"small","type":"file","mode":8389101,"mtime":"2021-03-04T05:06:07.123456789Z","atime":"2021-03-04T05:06:07.123456789Z","ctime":"2026-11-25T14:49:03.770087943Z","uid":0,"gid":0,"user":"root","group":"root","inode":9994992,"device_id":65024,"size":3,"links":1,"extended_attributes":[{"name":"user.zz","value":"MQ=="},{"name":"user.aa","value":"Mg=="},{"name":"user.mm","value":""}],"content":["98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4"]}`,
		},
		{
			name: "empty file mode 0 unnamed owner",
			node: tree.Node{Name: "e", Type: "file", ModTime: mt, AccessTime: mt, ChangeTime: mt, UID: 12345, GID: 65534, Group: "nogroup", Inode: 7, DeviceID: 1, Links: 1, Content: []id.ID{}},
			want: `{"name":"e","type":"file","mtime":"2021-03-04T05:06:07.123456789Z","atime":"2021-03-04T05:06:07.123456789Z","ctime":"2021-03-04T05:06:07.123456789Z","uid":12345,"gid":65534,"group":"nogroup","inode":7,"device_id":1,"links":1,"content":[]}`,
		},
		{
			name: "dir",
			node: tree.Node{Name: "empty", Type: "dir", Mode: 2148532735, ModTime: mt, AccessTime: mt, ChangeTime: mt, Inode: 1, DeviceID: 2, Subtree: &sub},
			want: `{"name":"empty","type":"dir","mode":2148532735,"mtime":"2021-03-04T05:06:07.123456789Z","atime":"2021-03-04T05:06:07.123456789Z","ctime":"2021-03-04T05:06:07.123456789Z","uid":0,"gid":0,"inode":1,"device_id":2,"content":null,"subtree":"ac08ce34ba4f8123618661bef2425f7028ffb9ac740578a3ee88684d2523fee8"}`,
		},
		{
			name: "zero node",
			node: tree.Node{},
			want: `{"name":"","type":"","mtime":"0001-01-01T00:00:00Z","atime":"0001-01-01T00:00:00Z","ctime":"0001-01-01T00:00:00Z","uid":0,"gid":0,"content":null}`,
		},
		{
			name: "later restic fields",
			node: tree.Node{Name: "l", Type: "symlink", LinkTarget: "\ufffd", LinkTargetRaw: []byte{0xff}, Device: 5, Error: "oops <x>",
				ExtendedAttributes: []tree.ExtendedAttribute{{Name: "gone"}}},
			want: `{"name":"l","type":"symlink","mtime":"0001-01-01T00:00:00Z","atime":"0001-01-01T00:00:00Z","ctime":"0001-01-01T00:00:00Z","uid":0,"gid":0,"linktarget":"` + "\ufffd" + `","linktarget_raw":"/w==","extended_attributes":[{"name":"gone","value":null}],"device":5,"content":null,"error":"oops \u003cx\u003e"}`,
		},
		{
			name: "zone with seconds offset",
			node: tree.Node{Name: "z", ModTime: time.Date(1902, 1, 1, 0, 0, 0, 500, time.FixedZone("MMT", 5*3600+21*60+10)),
				AccessTime: time.Date(2020, 6, 1, 0, 0, 0, 0, time.FixedZone("", -(4*3600+56*60+2)))},
			want: `{"name":"z","type":"","mtime":"1902-01-01T00:00:00.0000005+05:21","atime":"2020-06-01T00:00:00-04:56","ctime":"0001-01-01T00:00:00Z","uid":0,"gid":0,"content":null}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tree.Tree{Nodes: []*tree.Node{&tc.node}}
			got, err := tr.Encode(nil)
			if err != nil {
				t.Fatalf("Encode() = %v", err)
			}
			want := `{"nodes":[` + tc.want + "]}\n"
			if string(got) != want {
				t.Errorf("Encode() =\n%s\nwant\n%s", got, want)
			}
			back, err := tree.Decode(got)
			if err != nil {
				t.Fatalf("Decode(Encode()) = %v", err)
			}
			again, err := back.Encode(nil)
			if err != nil || string(again) != want {
				t.Errorf("Encode(Decode(Encode())) = %s, %v; want the same bytes", again, err)
			}
		})
	}
}

func TestEncodeEmptyTree(t *testing.T) {
	for _, tr := range []*tree.Tree{{}, {Nodes: []*tree.Node{}}} {
		got, err := tr.Encode([]byte("prefix:"))
		if err != nil || string(got) != "prefix:{\"nodes\":[]}\n" {
			t.Errorf("Encode(%#v) = %q, %v; want the prefix and an empty list", tr, got, err)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   tree.Tree
	}{
		{"nil node", tree.Tree{Nodes: []*tree.Node{nil}}},
		{"year 10000", tree.Tree{Nodes: []*tree.Node{{ModTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
		{"year -1", tree.Tree{Nodes: []*tree.Node{{ChangeTime: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.tr.Encode(nil); err == nil {
				t.Errorf("Encode() = %s, want an error", got)
			}
		})
	}
}

// refNode is restic's node as encoding/json sees it; the reference encoding
// below differs from restic 0.14 only in the cases the unit tests above pin
// (\b, \f, and runes printable only in newer Unicode versions).
type refNode struct {
	Name               string                   `json:"name"`
	Type               string                   `json:"type"`
	Mode               os.FileMode              `json:"mode,omitempty"`
	ModTime            time.Time                `json:"mtime,omitempty"`
	AccessTime         time.Time                `json:"atime,omitempty"`
	ChangeTime         time.Time                `json:"ctime,omitempty"`
	UID                uint32                   `json:"uid"`
	GID                uint32                   `json:"gid"`
	User               string                   `json:"user,omitempty"`
	Group              string                   `json:"group,omitempty"`
	Inode              uint64                   `json:"inode,omitempty"`
	DeviceID           uint64                   `json:"device_id,omitempty"`
	Size               uint64                   `json:"size,omitempty"`
	Links              uint64                   `json:"links,omitempty"`
	LinkTarget         string                   `json:"linktarget,omitempty"`
	ExtendedAttributes []tree.ExtendedAttribute `json:"extended_attributes,omitempty"`
	Device             uint64                   `json:"device,omitempty"`
	Content            []id.ID                  `json:"content"`
	Subtree            *id.ID                   `json:"subtree,omitempty"`
}

func refEncode(t *testing.T, nodes []*tree.Node) []byte {
	t.Helper()
	var v struct {
		Nodes []refNode `json:"nodes"`
	}
	for _, n := range nodes {
		q := strconv.Quote(n.Name)
		v.Nodes = append(v.Nodes, refNode{
			q[1 : len(q)-1], n.Type, n.Mode, n.ModTime, n.AccessTime, n.ChangeTime, n.UID, n.GID, n.User,
			n.Group, n.Inode, n.DeviceID, n.Size, n.Links, n.LinkTarget, n.ExtendedAttributes, n.Device,
			n.Content, n.Subtree,
		})
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// randString draws from a mix that exercises every escaping path, avoiding
// \b, \f and runes whose printability changed after Unicode 13.
func randString(rng *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\n", "\t", "\r", "\x00", "\x01", "\x1f", "\x7f",
		"\x80", "\xff", "é", "日", "\u00a0", "\u2028", "\u2029", "\ufffd", "\U0001F600", "\U000E0001", "\xed\xa0\x80", "\xe6\x97"}
	var sb strings.Builder
	for range rng.IntN(12) {
		if rng.IntN(4) == 0 {
			r := rune(rng.IntN(0x110000))
			if tree.IsPrint(r) == strconv.IsPrint(r) {
				sb.WriteRune(r)
			}
			continue
		}
		sb.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return sb.String()
}

func randNode(rng *rand.Rand) *tree.Node {
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", 5*3600+21*60+10)}
	randTime := func() time.Time {
		return time.Unix(rng.Int64N(253402300799-86400+62135596800)-62135596800, rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))])
	}
	maybe := func(v uint64) uint64 { return v * uint64(rng.IntN(2)) }
	n := &tree.Node{
		Name: randString(rng), Type: randString(rng), Mode: os.FileMode(maybe(rng.Uint64N(1 << 32))),
		ModTime: randTime(), AccessTime: randTime(), ChangeTime: randTime(),
		UID: rng.Uint32(), GID: rng.Uint32(), Inode: maybe(rng.Uint64()), DeviceID: maybe(rng.Uint64()),
		Size: maybe(rng.Uint64()), Links: maybe(rng.Uint64()), Device: maybe(rng.Uint64()),
	}
	if rng.IntN(2) == 0 {
		n.User, n.Group, n.LinkTarget = randString(rng), randString(rng), randString(rng)
	}
	for range rng.IntN(3) {
		var v []byte
		if rng.IntN(5) > 0 {
			v = []byte(randString(rng))
		}
		n.ExtendedAttributes = append(n.ExtendedAttributes, tree.ExtendedAttribute{Name: randString(rng), Value: v})
	}
	switch rng.IntN(3) {
	case 0:
		n.Content = []id.ID{}
		for range rng.IntN(4) {
			var c id.ID
			for i := range c {
				c[i] = byte(rng.Uint32())
			}
			n.Content = append(n.Content, c)
		}
	case 1:
		var s id.ID
		s[0], s[31] = byte(rng.Uint32()), 0xab
		n.Subtree = &s
	}
	return n
}

// TestEncodeMatchesEncodingJSON compares random trees with encoding/json of
// restic's node struct, on inputs where Go 1.19 and today's Go agree.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 2000 {
		var nodes []*tree.Node
		for range rng.IntN(5) {
			nodes = append(nodes, randNode(rng))
		}
		tr := tree.Tree{Nodes: nodes}
		got, err := tr.Encode(nil)
		if err != nil {
			t.Fatalf("case %d: Encode() = %v", i, err)
		}
		want := refEncode(t, nodes)
		if len(nodes) == 0 {
			want = []byte("{\"nodes\":[]}\n")
		}
		if string(got) != string(want) {
			t.Fatalf("case %d: Encode() =\n%s\nencoding/json gives\n%s", i, got, want)
		}
		back, err := tree.Decode(got)
		if err != nil {
			t.Fatalf("case %d: Decode(Encode()) = %v", i, err)
		}
		again, err := back.Encode(nil)
		if err != nil || string(again) != string(got) {
			t.Fatalf("case %d: re-encoding a decoded tree gave\n%s (%v)\nwant\n%s", i, again, err, got)
		}
		for j := range nodes {
			if back.Nodes[j].Name != nodes[j].Name {
				t.Fatalf("case %d: decoded name %q, want %q", i, back.Nodes[j].Name, nodes[j].Name)
			}
		}
	}
}

func TestDecodeTolerant(t *testing.T) {
	in := `{"extra":[1,{"a":2}],"nodes":[{"name":"a\\u00a0b\\xff","type":"file","generic_attributes":{"k":"dg=="},` +
		`"unknown":null,"mtime":"2020-01-02T03:04:05.5+01:00","content":[],"size":3}]}`
	tr, err := tree.Decode([]byte(in))
	if err != nil {
		t.Fatalf("Decode() = %v", err)
	}
	want := &tree.Tree{Nodes: []*tree.Node{{Name: "a\u00a0b\xff", Type: "file", Size: 3, Content: []id.ID{},
		ModTime: time.Date(2020, 1, 2, 2, 4, 5, 5e8, time.UTC)}}}
	opt := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	if diff := cmp.Diff(want, tr, opt); diff != "" {
		t.Errorf("Decode() mismatch (-want +got):\n%s", diff)
	}
	for _, in := range []string{"null", `{}`, `{"nodes":null}`, " {\"nodes\":[]}\n"} {
		tr, err := tree.Decode([]byte(in))
		if err != nil || len(tr.Nodes) != 0 {
			t.Errorf("Decode(%q) = %+v, %v; want an empty tree", in, tr, err)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, in := range []string{
		``, `{`, `[]`, `"x"`, `{"nodes":{}}`, `{"nodes":[1]}`, `{"nodes":[null]}`,
		`{"nodes":[{"name":"\\"}]}`, `{"nodes":[{"name":"\\q"}]}`, `{"nodes":[{"name":"\""}]}`,
		`{"nodes":[{"mtime":"yesterday"}]}`, `{"nodes":[{"mode":-1}]}`, `{"nodes":[{"uid":4294967296}]}`,
		`{"nodes":[{"content":["zz"]}]}`, `{"nodes":[{"subtree":"00"}]}`, `{"nodes":[{"extended_attributes":[{"value":"!"}]}]}`,
		`{"nodes":[]} x`,
	} {
		if tr, err := tree.Decode([]byte(in)); !errors.Is(err, tree.ErrInvalidData) {
			t.Errorf("Decode(%q) = %+v, %v; want an error matching ErrInvalidData", in, tr, err)
		}
	}
}

func TestPrintTableIsSubsetOfCurrentGo(t *testing.T) {
	n := 0
	for r := rune(0); r <= 0x10FFFF; r++ {
		if tree.IsPrint(r) {
			n++
			if !strconv.IsPrint(r) {
				t.Fatalf("IsPrint(%U) = true, but strconv.IsPrint says false", r)
			}
		}
	}
	// restic 0.14.0 leaves 143585 non-ASCII runes unescaped; isPrint also
	// accepts the 95 ASCII runes from space to tilde.
	if n != 143585+95 {
		t.Errorf("%d printable runes, want %d", n, 143585+95)
	}
}
