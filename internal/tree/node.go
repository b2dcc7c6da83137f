package tree

import (
	"os"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
)

// Node types, the values of [Node.Type].
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
	TypeDev     = "dev"     // block device
	TypeCharDev = "chardev" // character device
	TypeFifo    = "fifo"
	TypeSocket  = "socket"
)

// Node is one entry of a directory, with the fields restic stores for it.
// The comment after each field gives its JSON key; see the package doc for
// which keys are left out when zero.
type Node struct {
	Name       string      // name, quoted (see the package doc)
	Type       string      // type: one of the Type constants
	Mode       os.FileMode // mode: permission and type bits as Go reports them
	ModTime    time.Time   // mtime
	AccessTime time.Time   // atime: equal to ModTime unless recorded with atime
	ChangeTime time.Time   // ctime
	UID        uint32      // uid
	GID        uint32      // gid
	User       string      // user: name of UID, empty if it has none
	Group      string      // group: name of GID, empty if it has none
	Inode      uint64      // inode
	DeviceID   uint64      // device_id: st_dev of the file system
	Size       uint64      // size: regular files only
	Links      uint64      // links: files, symlinks and devices only
	LinkTarget string      // linktarget: symlinks only

	// LinkTargetRaw (linktarget_raw) holds a symlink target that is not valid
	// UTF-8. Restic 0.14 does not have it (it writes the target lossily, with
	// U+FFFD for bad bytes); later versions do. It is kept so that such trees
	// round-trip, and [NodeFromPath] never sets it.
	LinkTargetRaw []byte

	ExtendedAttributes []ExtendedAttribute // extended_attributes
	Device             uint64              // device: st_rdev of block and char devices
	Content            []id.ID             // content: data blob IDs; null unless a file
	Subtree            *id.ID              // subtree: tree blob ID of a directory

	// Error (error) is written by later restic versions for nodes whose
	// metadata could not be read in full. 0.14 never writes it.
	Error string
}

// ExtendedAttribute is one extended attribute of a node. A nil Value is
// encoded as null and an empty one as "".
type ExtendedAttribute struct {
	Name  string `json:"name"`
	Value []byte `json:"value"`
}
