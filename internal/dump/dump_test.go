package dump_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/dump"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker/walkertest"
)

// mtime is a modification time with nanoseconds, which tar must keep.
var mtime = time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)

// sampleRoot stores a tree with one node of every type below /home/u/src
// and returns the ID of the src tree.
func sampleRoot(r *walkertest.Repo) id.ID {
	file := r.File("file", "hello, ", "world\n")
	file.Mode = 0o640 | os.ModeSetuid
	file.UID, file.GID, file.User, file.Group = 1000, 100, "alice", "users"
	file.ExtendedAttributes = []tree.ExtendedAttribute{{Name: "user.k", Value: []byte{'v', 0, 0xff}}}
	inner := r.File("inner", "x")
	inner.ModTime = mtime
	sub := r.Dir("sub", inner)
	sub.Mode |= os.ModeSticky
	nodes := []*tree.Node{
		file,
		r.File("empty"),
		sub,
		{Name: "link", Type: tree.TypeSymlink, Mode: os.ModeSymlink | 0o777, LinkTarget: "file"},
		{Name: "fifo", Type: tree.TypeFifo, Mode: os.ModeNamedPipe | 0o600},
		{Name: "null", Type: tree.TypeCharDev, Mode: os.ModeDevice | os.ModeCharDevice | 0o666, Device: 0x103},
		{Name: "loop", Type: tree.TypeDev, Mode: os.ModeDevice | 0o660, Device: 7<<8 | 200},
		{Name: "sock", Type: tree.TypeSocket, Mode: os.ModeSocket | 0o755},
	}
	for _, n := range nodes {
		n.ModTime = mtime
	}
	return r.Tree(nodes...)
}

func TestContentOrderAndReadAhead(t *testing.T) {
	r := walkertest.New()
	var chunks []string
	var want strings.Builder
	for i := range 11 { // more than the read-ahead window
		c := fmt.Sprintf("chunk %d;", i)
		chunks = append(chunks, c)
		want.WriteString(c)
	}
	n := r.File("f", chunks...)
	var buf bytes.Buffer
	if err := dump.File(t.Context(), r, &buf, n); err != nil {
		t.Fatal(err)
	}
	if buf.String() != want.String() {
		t.Errorf("File wrote %q, want %q", buf.String(), want.String())
	}

	n.Content[5] = id.Hash([]byte("not stored"))
	buf.Reset()
	err := dump.File(t.Context(), r, &buf, n)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("File with a missing blob = %v, want not found", err)
	}
	if !strings.HasPrefix(want.String(), buf.String()) || buf.Len() != len("chunk 0;")*5 {
		t.Errorf("before the missing blob File wrote %q", buf.String())
	}

	dir := r.Dir("d")
	if err := dump.File(t.Context(), r, &buf, dir); err == nil {
		t.Error("File of a directory succeeded")
	}
}
