package dump_test

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"testing"

	"github.com/cairn-backup/cairn/internal/dump"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker/walkertest"
	"github.com/google/go-cmp/cmp"
)

// entry is what the tests check of one tar member.
type entry struct {
	Name, Linkname string
	Type           byte
	Mode           int64
	UID, GID       int
	User, Group    string
	Size           int64
	Major, Minor   int64
	MTimeNanos     int64
	Xattrs, ACL    map[string]string
	Content        string
}

func readTar(t *testing.T, b []byte) []entry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		e := entry{
			Name: h.Name, Linkname: h.Linkname, Type: h.Typeflag, Mode: h.Mode,
			UID: h.Uid, GID: h.Gid, User: h.Uname, Group: h.Gname, Size: h.Size,
			Major: h.Devmajor, Minor: h.Devminor, MTimeNanos: h.ModTime.UnixNano(), Content: string(content),
		}
		for k, v := range h.PAXRecords {
			switch {
			case len(k) > 13 && k[:13] == "SCHILY.xattr.":
				if e.Xattrs == nil {
					e.Xattrs = map[string]string{}
				}
				e.Xattrs[k[13:]] = v
			case len(k) > 11 && k[:11] == "SCHILY.acl.":
				if e.ACL == nil {
					e.ACL = map[string]string{}
				}
				e.ACL[k[11:]] = v
			}
		}
		out = append(out, e)
	}
}

func TestTarEntries(t *testing.T) {
	r := walkertest.New()
	root := sampleRoot(r)
	var buf bytes.Buffer
	a := dump.NewTar(&buf, r)
	if err := dump.Tree(t.Context(), r, a, "/home/u/src", root); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	mt := mtime.UnixNano()
	want := []entry{
		{Name: "home/u/src/empty", Type: tar.TypeReg, Mode: 0o644, MTimeNanos: mt},
		{Name: "home/u/src/fifo", Type: tar.TypeFifo, Mode: 0o600, MTimeNanos: mt},
		{
			Name: "home/u/src/file", Type: tar.TypeReg, Mode: 0o4640, UID: 1000, GID: 100, User: "alice", Group: "users",
			Size: 13, MTimeNanos: mt, Content: "hello, world\n", Xattrs: map[string]string{"user.k": "v\x00\xff"},
		},
		{Name: "home/u/src/link", Linkname: "file", Type: tar.TypeSymlink, Mode: 0o777, MTimeNanos: mt},
		{Name: "home/u/src/loop", Type: tar.TypeBlock, Mode: 0o660, Major: 7, Minor: 200, MTimeNanos: mt},
		{Name: "home/u/src/null", Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3, MTimeNanos: mt},
		// sock is left out.
		{Name: "home/u/src/sub/", Type: tar.TypeDir, Mode: 0o1755, MTimeNanos: mt},
		{Name: "home/u/src/sub/inner", Type: tar.TypeReg, Mode: 0o644, Size: 1, Content: "x", MTimeNanos: mt},
	}
	got := readTar(t, buf.Bytes())
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tar entries (-want +got):\n%s", d)
	}
}

func TestTarWholeSnapshotNames(t *testing.T) {
	r := walkertest.New()
	root := r.Tree(r.Dir("etc", r.File("passwd", "root")), r.File("top", "t"))
	var buf bytes.Buffer
	a := dump.NewTar(&buf, r)
	if err := dump.Tree(t.Context(), r, a, "/", root); err != nil {
		t.Fatal(err)
	}
	must(t, a.Close())
	var names []string
	for _, e := range readTar(t, buf.Bytes()) {
		names = append(names, e.Name)
	}
	if d := cmp.Diff([]string{"etc/", "etc/passwd", "top"}, names); d != "" {
		t.Errorf("names (-want +got):\n%s", d)
	}
}

func TestTarHardlinks(t *testing.T) {
	r := walkertest.New()
	hard := func(name, content string, ino uint64) *tree.Node {
		n := r.File(name, content)
		n.Links, n.Inode, n.DeviceID = 2, ino, 42
		return n
	}
	changed := hard("c-changed", "other", 7) // same inode, other content: not a link
	root := r.Tree(hard("a", "same", 7), hard("b", "same", 7), changed, hard("d", "same", 8))
	var buf bytes.Buffer
	a := dump.NewTar(&buf, r)
	must(t, dump.Tree(t.Context(), r, a, "/", root))
	must(t, a.Close())
	got := map[string]entry{}
	for _, e := range readTar(t, buf.Bytes()) {
		got[e.Name] = e
	}
	if e := got["a"]; e.Type != tar.TypeReg || e.Content != "same" {
		t.Errorf("first path: %+v", e)
	}
	if e := got["b"]; e.Type != tar.TypeLink || e.Linkname != "a" || e.Size != 0 {
		t.Errorf("second path of the inode: %+v, want a hardlink to a", e)
	}
	if e := got["c-changed"]; e.Type != tar.TypeReg || e.Content != "other" {
		t.Errorf("same inode, other content: %+v, want a regular file", e)
	}
	if e := got["d"]; e.Type != tar.TypeReg || e.Content != "same" {
		t.Errorf("other inode: %+v, want a regular file", e)
	}
}

func TestTarSizeMismatch(t *testing.T) {
	r := walkertest.New()
	n := r.File("f", "12345")
	n.Size = 3
	var buf bytes.Buffer
	a := dump.NewTar(&buf, r)
	if err := a.Add(t.Context(), "f", n); err == nil {
		t.Error("Add of a file whose content is longer than its size succeeded")
	}
	n.Size = 9
	a = dump.NewTar(&buf, r)
	if err := a.Add(t.Context(), "f", n); err == nil {
		t.Error("Add of a file whose content is shorter than its size succeeded")
	}
}

func TestTarACL(t *testing.T) {
	acl := func(entries ...[3]uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, 2)
		for _, e := range entries {
			b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
			b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
			b = binary.LittleEndian.AppendUint32(b, e[2])
		}
		return b
	}
	const none = 0xffffffff
	access := acl([3]uint32{0x01, 6, none}, [3]uint32{0x02, 4, 1000}, [3]uint32{0x04, 4, none},
		[3]uint32{0x08, 5, 50}, [3]uint32{0x10, 7, none}, [3]uint32{0x20, 0, none})
	n := &tree.Node{Name: "d", Type: tree.TypeDir, Mode: os.ModeDir | 0o755, ExtendedAttributes: []tree.ExtendedAttribute{
		{Name: "system.posix_acl_access", Value: access},
		{Name: "system.posix_acl_default", Value: acl([3]uint32{0x01, 7, none}, [3]uint32{0x04, 5, none}, [3]uint32{0x20, 1, none})},
		{Name: "trusted.x", Value: []byte("t")},
	}}
	h, ok := dump.TarHeader("d", n)
	if !ok {
		t.Fatal("no header for a directory")
	}
	want := map[string]string{
		"SCHILY.acl.access":      "user::rw-,user:1000:r--,group::r--,group:50:r-x,mask::rwx,other::---",
		"SCHILY.acl.default":     "user::rwx,group::r-x,other::--x",
		"SCHILY.xattr.trusted.x": "t",
	}
	if d := cmp.Diff(want, h.PAXRecords); d != "" {
		t.Errorf("PAX records (-want +got):\n%s", d)
	}

	// A value that is not a valid ACL is kept as a raw attribute.
	n.ExtendedAttributes = []tree.ExtendedAttribute{{Name: "system.posix_acl_access", Value: []byte{1, 2, 3}}}
	h, _ = dump.TarHeader("d", n)
	if d := cmp.Diff(map[string]string{"SCHILY.xattr.system.posix_acl_access": "\x01\x02\x03"}, h.PAXRecords); d != "" {
		t.Errorf("PAX records for a broken ACL (-want +got):\n%s", d)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
