package tree_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

// benchTree returns a directory of 1000 typical nodes: files with two data
// blobs, a few directories and symlinks, names with some non-ASCII.
func benchTree() *tree.Tree {
	mt := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.Local)
	var tr tree.Tree
	for i := range 1000 {
		n := &tree.Node{
			Name: fmt.Sprintf("file-%04d-ünïcödé.txt", i), Type: tree.TypeFile, Mode: 0o644,
			ModTime: mt, AccessTime: mt, ChangeTime: mt.Add(time.Duration(i)), UID: 1000, GID: 1000,
			User: "user", Group: "user", Inode: uint64(1e6 + i), DeviceID: 65024, Size: 1 << 20, Links: 1,
			Content: []id.ID{id.Hash([]byte{byte(i)}), id.Hash([]byte{byte(i), 1})},
		}
		switch i % 50 {
		case 0:
			sub := id.Hash([]byte{byte(i), 2})
			n.Type, n.Mode, n.Size, n.Links, n.Content, n.Subtree = tree.TypeDir, 0o755|1<<31, 0, 0, nil, &sub
		case 1:
			n.Type, n.Mode, n.Size, n.Content, n.LinkTarget = tree.TypeSymlink, 0o777|1<<27, 0, nil, "../some/target"
		}
		if err := tr.Insert(n); err != nil {
			panic(err)
		}
	}
	return &tr
}

func BenchmarkEncode(b *testing.B) {
	tr := benchTree()
	buf, _ := tr.Encode(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = tr.Encode(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeEncodingJSON is the same tree through encoding/json of a
// mirror struct, for comparison.
func BenchmarkEncodeEncodingJSON(b *testing.B) {
	tr := benchTree()
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			Nodes []refNode `json:"nodes"`
		}
		for _, n := range tr.Nodes {
			v.Nodes = append(v.Nodes, refNode{Name: n.Name, Type: n.Type, Mode: n.Mode, ModTime: n.ModTime,
				AccessTime: n.AccessTime, ChangeTime: n.ChangeTime, UID: n.UID, GID: n.GID, User: n.User,
				Group: n.Group, Inode: n.Inode, DeviceID: n.DeviceID, Size: n.Size, Links: n.Links,
				LinkTarget: n.LinkTarget, Content: n.Content, Subtree: n.Subtree})
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	buf, _ := benchTree().Encode(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tree.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}
