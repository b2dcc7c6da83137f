package dump_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/cairn-backup/cairn/internal/dump"
	"github.com/cairn-backup/cairn/internal/walker/walkertest"
	"github.com/google/go-cmp/cmp"
)

func TestZipEntries(t *testing.T) {
	r := walkertest.New()
	root := sampleRoot(r)
	var buf bytes.Buffer
	a := dump.NewZip(&buf, r)
	must(t, dump.Tree(t.Context(), r, a, "/home/u/src", root))
	must(t, a.Close())
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	type zentry struct {
		Name    string
		Method  uint16
		Mode    os.FileMode
		Content string
		MTime   int64
	}
	var got []zentry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		must(t, err)
		must(t, rc.Close())
		got = append(got, zentry{f.Name, f.Method, f.Mode(), string(b), f.Modified.Unix()})
	}
	mt := mtime.Unix()
	want := []zentry{
		{"home/u/src/empty", zip.Deflate, 0o644, "", mt},
		{"home/u/src/file", zip.Deflate, 0o640 | os.ModeSetuid, "hello, world\n", mt},
		{"home/u/src/link", zip.Store, os.ModeSymlink | 0o777, "file", mt},
		{"home/u/src/sub/", zip.Store, os.ModeDir | os.ModeSticky | 0o755, "", mt},
		{"home/u/src/sub/inner", zip.Deflate, 0o644, "x", mt},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("zip entries (-want +got):\n%s", d)
	}
}
