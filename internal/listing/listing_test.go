package listing

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/tree"
)

func TestFilter(t *testing.T) {
	paths := []string{"/a", "/a/b", "/a/b/c", "/a/d", "/ab", "/x"}
	for _, c := range []struct {
		dirs      []string
		recursive bool
		show      string // the shown paths, space separated
		enter     string // the directories entered
	}{
		{nil, false, "/a /a/b /a/b/c /a/d /ab /x", "/a /a/b /a/b/c /a/d /ab /x"},
		{[]string{"/a"}, false, "/a /a/b /a/d", "/a"},
		{[]string{"/a"}, true, "/a /a/b /a/b/c /a/d", "/a /a/b /a/b/c /a/d"},
		{[]string{"/a/b/"}, false, "/a/b /a/b/c", "/a /a/b"},
		{[]string{"/"}, false, "/a /ab /x", ""},
		{[]string{"/nothing"}, true, "", ""},
	} {
		f, err := NewFilter(c.dirs, c.recursive)
		if err != nil {
			t.Fatal(err)
		}
		var show, enter []string
		for _, p := range paths {
			if f.Show(p) {
				show = append(show, p)
			}
			if f.Enter(p) {
				enter = append(enter, p)
			}
		}
		if got := strings.Join(show, " "); got != c.show {
			t.Errorf("%v recursive=%v: shows %q, want %q", c.dirs, c.recursive, got, c.show)
		}
		if got := strings.Join(enter, " "); got != c.enter {
			t.Errorf("%v recursive=%v: enters %q, want %q", c.dirs, c.recursive, got, c.enter)
		}
	}
	if _, err := NewFilter([]string{"rel"}, false); err != ErrRelative {
		t.Errorf("relative dir: %v", err)
	}
}

func TestSort(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	entries := func() []Entry {
		return []Entry{
			{"/d", &tree.Node{Name: "d", Type: tree.TypeDir, ModTime: at(3), AccessTime: at(1), ChangeTime: at(2)}},
			{"/d/x.txt", &tree.Node{Name: "x.txt", Size: 9, ModTime: at(1), AccessTime: at(3), ChangeTime: at(1)}},
			{"/d/y.bin", &tree.Node{Name: "y.bin", Size: 2, ModTime: at(2), AccessTime: at(2), ChangeTime: at(3)}},
			{"/.rc", &tree.Node{Name: ".rc", Size: 2, ModTime: at(4), AccessTime: at(4), ChangeTime: at(4)}},
		}
	}
	for mode, want := range map[string]string{
		"name":      "/d /d/x.txt /d/y.bin /.rc",
		"size":      "/d /d/y.bin /.rc /d/x.txt",
		"time":      "/d/x.txt /d/y.bin /d /.rc",
		"mtime":     "/d/x.txt /d/y.bin /d /.rc",
		"atime":     "/d /d/y.bin /d/x.txt /.rc",
		"ctime":     "/d/x.txt /d /d/y.bin /.rc",
		"extension": "/d /.rc /d/y.bin /d/x.txt",
	} {
		for _, reverse := range []bool{false, true} {
			e := entries()
			Sort(e, mode, reverse)
			var got []string
			for _, x := range e {
				got = append(got, x.Path)
			}
			w := strings.Fields(want)
			if reverse {
				for i, j := 0, len(w)-1; i < j; i, j = i+1, j-1 {
					w[i], w[j] = w[j], w[i]
				}
			}
			if strings.Join(got, " ") != strings.Join(w, " ") {
				t.Errorf("sort %s reverse=%v: %v, want %v", mode, reverse, got, w)
			}
		}
	}
	if _, err := ParseSort("colour"); err == nil {
		t.Error("ParseSort accepted colour")
	}
}

// TestNcdu checks the layout: header, nested directory arrays, entries
// with ncdu's keys, and the empty root.
func TestNcdu(t *testing.T) {
	var buf bytes.Buffer
	n, err := NewNcdu(&buf, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	n.Enter(&tree.Node{Name: "d", Type: tree.TypeDir, Mode: os.ModeDir | 0o755})
	n.Node(&tree.Node{Name: "f", Type: tree.TypeFile, Size: 513, Links: 1, Mode: 0o644, ModTime: time.Unix(7, 0)})
	n.Leave()
	n.Node(&tree.Node{Name: "l", Type: tree.TypeSymlink, Mode: os.ModeSymlink | 0o777})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	want := `[1, 2, {"k":"v"}, [{"name":"/"},
  [
    {"name":"d","asize":0,"dsize":0,"dev":0,"ino":0,"nlink":0,"notreg":false,"uid":0,"gid":0,"mode":493,"mtime":-62135596800},
    {"name":"f","asize":513,"dsize":1024,"dev":0,"ino":0,"nlink":1,"notreg":false,"uid":0,"gid":0,"mode":420,"mtime":7}
  ],
  {"name":"l","asize":0,"dsize":0,"dev":0,"ino":0,"nlink":0,"notreg":true,"uid":0,"gid":0,"mode":511,"mtime":-62135596800}
]
]
`
	if buf.String() != want {
		t.Errorf("ncdu:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	n, _ = NewNcdu(&buf, map[string]string{})
	if err := n.Close(); err != nil || buf.String() != "[1, 2, {}, [{\"name\":\"/\"}\n]\n]\n" {
		t.Errorf("empty: %q %v", buf.String(), err)
	}
}
