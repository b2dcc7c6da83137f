package listing

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"

	"github.com/cairn-backup/cairn/internal/tree"
)

// Ncdu writes ncdu's JSON export format (version 1.2, as `ncdu -f` reads
// it) the way restic lays it out: a header line with the snapshot, then
// one entry a line, each directory an array of its own entry and its
// children, indented two spaces a level.
type Ncdu struct {
	w     *bufio.Writer
	depth int // directories open below the root
	err   error
}

// NewNcdu writes the header with meta (the snapshot as stored) and opens
// the root directory.
func NewNcdu(w io.Writer, meta any) (*Ncdu, error) {
	m, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	n := &Ncdu{w: bufio.NewWriter(w)}
	n.printf("[1, 2, %s, [{\"name\":\"/\"}", m)
	return n, nil
}

func (n *Ncdu) printf(s string, b ...[]byte) {
	if n.err != nil {
		return
	}
	if len(b) > 0 {
		s = strings.Replace(s, "%s", string(b[0]), 1)
	}
	_, n.err = n.w.WriteString(s)
}

func (n *Ncdu) indent() string { return strings.Repeat("  ", n.depth+1) }

type ncduEntry struct {
	Name   string `json:"name"`
	Asize  uint64 `json:"asize"`
	Dsize  uint64 `json:"dsize"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Nlink  uint64 `json:"nlink"`
	NotReg bool   `json:"notreg"`
	UID    uint32 `json:"uid"`
	GID    uint32 `json:"gid"`
	Mode   uint32 `json:"mode"`
	Mtime  int64  `json:"mtime"`
}

func entryOf(node *tree.Node) []byte {
	e := ncduEntry{
		Name:   node.Name,
		Asize:  node.Size,
		Dsize:  (node.Size + 511) / 512 * 512,
		Dev:    node.DeviceID,
		Ino:    node.Inode,
		Nlink:  node.Links,
		NotReg: node.Type != tree.TypeFile && node.Type != tree.TypeDir,
		UID:    node.UID,
		GID:    node.GID,
		Mode:   uint32(node.Mode.Perm()),
		Mtime:  node.ModTime.Unix(),
	}
	b, _ := json.Marshal(e)
	return b
}

// Node writes a non-directory entry in the directory open now.
func (n *Ncdu) Node(node *tree.Node) {
	n.printf(",\n"+n.indent()+"%s", entryOf(node))
}

// Enter opens a directory: its entry, then its children until Leave.
func (n *Ncdu) Enter(node *tree.Node) {
	n.printf(",\n" + n.indent() + "[\n")
	n.depth++
	n.printf(n.indent()+"%s", entryOf(node))
}

// Leave closes the directory opened last.
func (n *Ncdu) Leave() {
	n.depth--
	n.printf("\n" + n.indent() + "]")
}

// Close closes the root and the document and flushes.
func (n *Ncdu) Close() error {
	n.printf("\n]\n]\n")
	if n.err != nil {
		return n.err
	}
	return n.w.Flush()
}
