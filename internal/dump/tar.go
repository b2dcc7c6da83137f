package dump

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

// Tar writes a PAX tar archive.
type Tar struct {
	tw    *tar.Writer
	l     Loader
	links map[inodeKey]firstLink // hardlinked files already written
}

var _ Archive = (*Tar)(nil)

// inodeKey identifies a file on the machine it was backed up from.
type inodeKey struct{ dev, ino uint64 }

// firstLink is the entry a later path of the same inode links to.
type firstLink struct {
	name    string
	content []id.ID
}

// NewTar returns a Tar that writes to w and reads file content from l.
func NewTar(w io.Writer, l Loader) *Tar {
	return &Tar{tw: tar.NewWriter(w), l: l, links: map[inodeKey]firstLink{}}
}

// Add writes the entry for n. Sockets and unknown types are skipped.
func (t *Tar) Add(ctx context.Context, name string, n *tree.Node) error {
	h, ok := TarHeader(name, n)
	if !ok {
		return nil
	}
	if h.Typeflag == tar.TypeReg && n.Links > 1 && n.Inode != 0 {
		k := inodeKey{n.DeviceID, n.Inode}
		if first, seen := t.links[k]; !seen {
			t.links[k] = firstLink{name: name, content: n.Content}
		} else if slices.Equal(first.content, n.Content) {
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first.name, 0
		}
	}
	if err := t.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("tar header for %s: %w", name, err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	written, err := Content(ctx, t.l, t.tw, n.Content)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if written != h.Size {
		return fmt.Errorf("%s: content has %d bytes, the snapshot records %d", name, written, h.Size)
	}
	return nil
}

// Close writes the end-of-archive marker.
func (t *Tar) Close() error { return t.tw.Close() }

// TarHeader returns the tar header for the node n as entry name, and false
// for nodes tar cannot hold (sockets, unknown types). A regular file's
// header gives its size; the caller turns it into a hardlink if need be.
func TarHeader(name string, n *tree.Node) (*tar.Header, bool) {
	h := &tar.Header{
		Name:    name,
		Mode:    unixPerm(n.Mode),
		Uid:     int(n.UID),
		Gid:     int(n.GID),
		Uname:   n.User,
		Gname:   n.Group,
		ModTime: n.ModTime,
		// PAX keeps the nanoseconds of ModTime, long names and the
		// extended attributes.
		Format:     tar.FormatPAX,
		PAXRecords: paxAttributes(n.ExtendedAttributes),
	}
	switch n.Type {
	case tree.TypeFile:
		h.Typeflag = tar.TypeReg
		h.Size = int64(n.Size)
	case tree.TypeDir:
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	case tree.TypeSymlink:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = n.LinkTarget
		if len(n.LinkTargetRaw) > 0 {
			h.Linkname = string(n.LinkTargetRaw)
		}
	case tree.TypeFifo:
		h.Typeflag = tar.TypeFifo
	case tree.TypeCharDev, tree.TypeDev:
		h.Typeflag = tar.TypeBlock
		if n.Type == tree.TypeCharDev {
			h.Typeflag = tar.TypeChar
		}
		h.Devmajor, h.Devminor = int64(devMajor(n.Device)), int64(devMinor(n.Device))
	default:
		return nil, false
	}
	return h, true
}

// unixPerm turns Go's mode bits into the Unix permission bits tar stores.
func unixPerm(m os.FileMode) int64 {
	p := int64(m.Perm())
	if m&os.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// devMajor and devMinor split a Linux st_rdev as glibc's gnu_dev_major
// and gnu_dev_minor do.
func devMajor(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^0xfff }
func devMinor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^0xff }

// paxAttributes returns the PAX records for a node's extended attributes:
// POSIX ACLs in the text form GNU tar and star use, everything else as
// SCHILY.xattr.<name> with the raw value. It returns nil for none.
func paxAttributes(attrs []tree.ExtendedAttribute) map[string]string {
	if len(attrs) == 0 {
		return nil
	}
	recs := make(map[string]string, len(attrs))
	for _, a := range attrs {
		key := ""
		switch a.Name {
		case aclAccessXattr:
			key = "SCHILY.acl.access"
		case aclDefaultXattr:
			key = "SCHILY.acl.default"
		}
		if key != "" {
			if text, ok := aclText(a.Value); ok {
				recs[key] = text
				continue
			}
		}
		recs["SCHILY.xattr."+a.Name] = string(a.Value)
	}
	return recs
}
