package filter_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"

	"github.com/cairn-backup/cairn/internal/filter"
	"github.com/google/go-cmp/cmp"
)

func TestReadPatternFile(t *testing.T) {
	t.Setenv("CAIRN_FILTER_TOP", "top.c")
	t.Setenv("CAIRN_FILTER_DIR", "z/")
	t.Setenv("CAIRN_FILTER_UNSET", "")
	os.Unsetenv("CAIRN_FILTER_UNSET")

	// Each answer below was checked with restic 0.14 --exclude-file.
	for _, c := range []struct {
		name string
		text string
		want []string
	}{
		{"comments and blank lines", "# exclude go files\n*.go\n\n   \n#foo\nfoo/**/bar\n", []string{"*.go", "foo/**/bar"}},
		{"indented comment", "  #foo\nbar\n", []string{"bar"}},
		{"spaces trimmed, inner kept", "   Foo   \n\tfoo bar star.txt\t\n", []string{"Foo", "foo bar star.txt"}},
		{"variable", "$CAIRN_FILTER_TOP\n", []string{"top.c"}},
		{"braced variable", "${CAIRN_FILTER_DIR}bar\n", []string{"z/bar"}},
		{"variable inside", "/home/$CAIRN_FILTER_TOP/x\n", []string{"/home/top.c/x"}},
		{"unset variable is empty, line dropped", "$CAIRN_FILTER_UNSET\nkeep\n", []string{"keep"}},
		{"double dollar is a dollar", "d$$x\n", []string{"d$x"}},
		{"trailing dollar kept", "lit$\n", []string{"lit$"}},
		{"tilde not expanded", "~/.cache\n", []string{"~/.cache"}},
		{"negation kept", "$CAIRN_FILTER_TOP\n!keep\n", []string{"top.c", "!keep"}},
		{"crlf", "Foo\r\ntop.c\r\n", []string{"Foo", "top.c"}},
		{"utf-8 bom", "\xEF\xBB\xBFFoo\n", []string{"Foo"}},
		{"utf-16le bom", utf16Text("\uFEFFFoo\r\nbär\r\n", false), []string{"Foo", "bär"}},
		{"utf-16be bom", utf16Text("\uFEFFFoo\nbär\n", true), []string{"Foo", "bär"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"empty file", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "excludes")
			if err := os.WriteFile(name, []byte(c.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := filter.ReadPatternFile(name)
			if err != nil {
				t.Fatalf("ReadPatternFile(%q) error: %v", c.text, err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ReadPatternFile(%q) mismatch (-want +got):\n%s", c.text, diff)
			}
		})
	}
}

func TestReadPatternFileErrors(t *testing.T) {
	_, err := filter.ReadPatternFile(filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadPatternFile(missing) = %v, want fs.ErrNotExist", err)
	}
	name := filepath.Join(t.TempDir(), "odd")
	if err := os.WriteFile(name, []byte{0xFF, 0xFE, 'a'}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := filter.ReadPatternFile(name); err == nil {
		t.Error("ReadPatternFile(odd-length UTF-16) = nil error")
	}
}

// utf16Text encodes s (which starts with its byte-order mark) as UTF-16.
func utf16Text(s string, bigEndian bool) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}
