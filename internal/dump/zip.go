package dump

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/cairn-backup/cairn/internal/tree"
)

// Zip writes a zip archive.
type Zip struct {
	zw *zip.Writer
	l  Loader
}

var _ Archive = (*Zip)(nil)

// NewZip returns a Zip that writes to w and reads file content from l.
func NewZip(w io.Writer, l Loader) *Zip {
	return &Zip{zw: zip.NewWriter(w), l: l}
}

// Add writes the entry for n. Only files, directories and symlinks are
// kept; other types are skipped.
func (z *Zip) Add(ctx context.Context, name string, n *tree.Node) error {
	h := &zip.FileHeader{Name: name, Modified: n.ModTime, Method: zip.Store}
	mode := n.Mode
	switch n.Type {
	case tree.TypeFile:
		h.Method = zip.Deflate
		mode &^= os.ModeType
	case tree.TypeDir:
		h.Name += "/"
		mode |= os.ModeDir
	case tree.TypeSymlink:
		mode |= os.ModeSymlink
	default:
		return nil
	}
	h.SetMode(mode)
	w, err := z.zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("zip header for %s: %w", name, err)
	}
	switch n.Type {
	case tree.TypeSymlink:
		target := n.LinkTarget
		if len(n.LinkTargetRaw) > 0 {
			target = string(n.LinkTargetRaw)
		}
		_, err = io.WriteString(w, target)
	case tree.TypeFile:
		_, err = Content(ctx, z.l, w, n.Content)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Close writes the central directory.
func (z *Zip) Close() error { return z.zw.Close() }
