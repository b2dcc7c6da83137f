package mount

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/cairn-backup/cairn/internal/browse"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// treeNode is a node of a snapshot's trees; the snapshot's root is a
// directory node made by browse.Root.
type treeNode struct {
	fs.Inode
	m    *mnt
	n    *tree.Node
	snap string // ID of the snapshot the node is in

	once sync.Once // opens file
	file *browse.File
	err  error
}

var (
	_ fs.NodeLookuper    = (*treeNode)(nil)
	_ fs.NodeReaddirer   = (*treeNode)(nil)
	_ fs.NodeGetattrer   = (*treeNode)(nil)
	_ fs.NodeOpener      = (*treeNode)(nil)
	_ fs.NodeReader      = (*treeNode)(nil)
	_ fs.NodeReadlinker  = (*treeNode)(nil)
	_ fs.NodeGetxattrer  = (*treeNode)(nil)
	_ fs.NodeListxattrer = (*treeNode)(nil)
)

// linkTarget returns a symlink's target, byte for byte.
func linkTarget(n *tree.Node) string {
	if n.LinkTargetRaw != nil {
		return string(n.LinkTargetRaw)
	}
	return n.LinkTarget
}

func (t *treeNode) attr(a *fuse.Attr) {
	n := t.n
	a.Mode = fuseType(n) | uint32(n.Mode.Perm())
	if n.Mode&os.ModeSetuid != 0 {
		a.Mode |= syscall.S_ISUID
	}
	if n.Mode&os.ModeSetgid != 0 {
		a.Mode |= syscall.S_ISGID
	}
	if n.Mode&os.ModeSticky != 0 {
		a.Mode |= syscall.S_ISVTX
	}
	switch n.Type {
	case tree.TypeFile:
		a.Size = n.Size
		a.Blocks = (n.Size + 511) / 512
	case tree.TypeSymlink:
		a.Size = uint64(len(linkTarget(n)))
	}
	a.Nlink = uint32(max(n.Links, 1))
	if n.Type == tree.TypeDir {
		a.Nlink = 2
	}
	a.Uid, a.Gid = n.UID, n.GID
	if t.m.o.OwnerRoot {
		a.Uid, a.Gid = 0, 0
	}
	a.Rdev = uint32(n.Device)
	a.Blksize = 4096
	a.SetTimes(&n.AccessTime, &n.ModTime, &n.ChangeTime)
}

func (t *treeNode) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	t.attr(&out.Attr)
	out.Ino = t.StableAttr().Ino
	out.SetTimeout(treeTimeout)
	return 0
}

// children returns the decoded tree of a directory node.
func (t *treeNode) children(ctx context.Context) (*tree.Tree, syscall.Errno) {
	if t.n.Type != tree.TypeDir {
		return nil, syscall.ENOTDIR
	}
	if t.n.Subtree == nil {
		return &tree.Tree{}, 0
	}
	tr, err := t.m.view.Tree(ctx, *t.n.Subtree)
	if err != nil {
		return nil, t.m.errno(err)
	}
	return tr, 0
}

// childIno is the inode number of the child n: a hash of this node's
// number and the name, or for a file with several links, of the
// snapshot, device and inode it had, so that its paths in one snapshot
// are hardlinks of each other, as in restic's mount.
func (t *treeNode) childIno(n *tree.Node) uint64 {
	if n.Links > 1 && n.Type != tree.TypeDir {
		return ino("hardlink", t.snap, strconv.FormatUint(n.DeviceID, 16), strconv.FormatUint(n.Inode, 16))
	}
	return ino("tree", strconv.FormatUint(t.StableAttr().Ino, 16), n.Name)
}

func (t *treeNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	tr, errno := t.children(ctx)
	if errno != 0 {
		return nil, errno
	}
	n := tr.Find(name)
	if n == nil {
		return nil, syscall.ENOENT
	}
	child := &treeNode{m: t.m, n: n, snap: t.snap}
	child.attr(&out.Attr)
	out.SetEntryTimeout(treeTimeout)
	out.SetAttrTimeout(treeTimeout)
	return t.NewInode(ctx, child, fs.StableAttr{Mode: fuseType(n), Ino: t.childIno(n)}), 0
}

func (t *treeNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	tr, errno := t.children(ctx)
	if errno != 0 {
		return nil, errno
	}
	list := make([]fuse.DirEntry, 0, len(tr.Nodes))
	for _, n := range tr.Nodes {
		list = append(list, fuse.DirEntry{Name: n.Name, Mode: fuseType(n), Ino: t.childIno(n)})
	}
	return fs.NewListDirStream(list), 0
}

func (t *treeNode) Open(_ context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	if t.n.Type != tree.TypeFile {
		return nil, 0, syscall.EINVAL
	}
	t.once.Do(func() { t.file, t.err = t.m.view.Open(t.n) })
	if t.err != nil {
		return nil, 0, t.m.errno(t.err)
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (t *treeNode) Read(ctx context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	t.once.Do(func() { t.file, t.err = t.m.view.Open(t.n) })
	if t.err != nil {
		return nil, t.m.errno(t.err)
	}
	n, err := t.file.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, t.m.errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (t *treeNode) Readlink(context.Context) ([]byte, syscall.Errno) {
	if t.n.Type != tree.TypeSymlink {
		return nil, syscall.EINVAL
	}
	return []byte(linkTarget(t.n)), 0
}

func (t *treeNode) Getxattr(_ context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	for _, x := range t.n.ExtendedAttributes {
		if x.Name == attr {
			if len(dest) < len(x.Value) {
				return uint32(len(x.Value)), syscall.ERANGE
			}
			return uint32(copy(dest, x.Value)), 0
		}
	}
	return 0, syscall.ENODATA
}

func (t *treeNode) Listxattr(_ context.Context, dest []byte) (uint32, syscall.Errno) {
	var names []byte
	for _, x := range t.n.ExtendedAttributes {
		names = append(append(names, x.Name...), 0)
	}
	if len(dest) < len(names) {
		return uint32(len(names)), syscall.ERANGE
	}
	return uint32(copy(dest, names)), 0
}
