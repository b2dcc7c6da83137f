package mount

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/internal/browse"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Options tune a mount.
type Options struct {
	// AllowOther lets other users than the one mounting read the files.
	AllowOther bool
	// NoDefaultPermissions, with AllowOther, lets the kernel skip the
	// permission checks of the files' modes.
	NoDefaultPermissions bool
	// OwnerRoot shows every file as owned by root.
	OwnerRoot bool
	// Name is shown as the file system's source in /proc/mounts.
	Name string
	// Warn, if set, receives errors met while serving (a blob that
	// cannot be read, say); the file system call fails with EIO.
	Warn func(error)
}

// How long the kernel may keep what it was told.
const (
	layoutTimeout = time.Second // layout directories change with the snapshots
	treeTimeout   = time.Hour   // snapshot contents never change
)

// Mount mounts v at dir and returns the server; the caller waits for it
// with Wait and ends it with Unmount.
func Mount(dir string, v *browse.View, o Options) (*fuse.Server, error) {
	m := &mnt{view: v, o: o}
	root := &layoutDir{m: m, path: ""}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if o.OwnerRoot {
		uid, gid = 0, 0
	}
	m.uid, m.gid = uid, gid
	lt, tt := layoutTimeout, layoutTimeout
	opts := []string{"ro"}
	if !o.NoDefaultPermissions {
		opts = append(opts, "default_permissions")
	}
	name := o.Name
	if name == "" {
		name = "cairn"
	}
	srv, err := fs.Mount(dir, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:   o.AllowOther,
			FsName:       name,
			Name:         "cairn",
			Options:      opts,
			DirectMount:  true,
			MaxReadAhead: 1 << 20,
		},
		EntryTimeout:    &lt,
		AttrTimeout:     &tt,
		UID:             uid,
		RootStableAttr:  &fs.StableAttr{Mode: fuse.S_IFDIR, Ino: 1},
		NullPermissions: true, // a mode of 0 is shown as 0
		GID:             gid,
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	return srv, nil
}

// mnt is what every node of one mount shares.
type mnt struct {
	view     *browse.View
	o        Options
	uid, gid uint32
}

// errno turns an error of the view into a file system error, reporting
// the unexpected ones.
func (m *mnt) errno(err error) syscall.Errno {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, browse.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	}
	if m.o.Warn != nil {
		m.o.Warn(err)
	}
	return syscall.EIO
}

// ino is a stable inode number for the given parts; it avoids the
// numbers FUSE reserves.
func ino(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	n := h.Sum64() >> 1
	if n < 2 {
		n += 2
	}
	return n
}

// layoutDir is a directory of the layout; path is its path in it.
type layoutDir struct {
	fs.Inode
	m    *mnt
	path string
}

var (
	_ fs.NodeLookuper  = (*layoutDir)(nil)
	_ fs.NodeReaddirer = (*layoutDir)(nil)
	_ fs.NodeGetattrer = (*layoutDir)(nil)
)

// dir returns the current contents of d.
func (d *layoutDir) dir(ctx context.Context) (*browse.Dir, error) {
	root, err := d.m.view.Layout(ctx)
	if err != nil {
		return nil, err
	}
	e, rest, err := root.Resolve(d.path)
	if err != nil {
		return nil, err
	}
	if e.Dir == nil || rest != "/" {
		return nil, fmt.Errorf("%s: %w", d.path, browse.ErrNotFound) // the layout changed
	}
	return e.Dir, nil
}

func (d *layoutDir) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dir, err := d.dir(ctx)
	if err != nil {
		// A directory that went (its snapshots forgotten) is shown empty
		// until the kernel forgets it.
		dir = &browse.Dir{}
	}
	d.m.dirAttr(&out.Attr, dir.ModTime)
	out.Ino = d.StableAttr().Ino
	out.SetTimeout(layoutTimeout)
	return 0
}

func (m *mnt) dirAttr(a *fuse.Attr, t time.Time) {
	a.Mode = fuse.S_IFDIR | 0o555
	a.Nlink = 2
	a.Uid, a.Gid = m.uid, m.gid
	a.SetTimes(&t, &t, &t)
}

func (d *layoutDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	dir, err := d.dir(ctx)
	if err != nil {
		return nil, d.m.errno(err)
	}
	list := make([]fuse.DirEntry, 0, len(dir.Entries))
	for _, e := range dir.Entries {
		de := fuse.DirEntry{Name: e.Name}
		switch {
		case e.Dir != nil:
			de.Mode, de.Ino = fuse.S_IFDIR, ino("layout", path.Join(d.path, e.Name))
		case e.Snapshot != nil:
			de.Mode, de.Ino = fuse.S_IFDIR, ino("snapshot", path.Join(d.path, e.Name), e.Snapshot.ID.String())
		default:
			de.Mode, de.Ino = fuse.S_IFLNK, ino("link", path.Join(d.path, e.Name), e.Link)
		}
		list = append(list, de)
	}
	return fs.NewListDirStream(list), 0
}

func (d *layoutDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	dir, err := d.dir(ctx)
	if err != nil {
		return nil, d.m.errno(err)
	}
	e := dir.Lookup(name)
	if e == nil {
		return nil, syscall.ENOENT
	}
	p := path.Join(d.path, name)
	out.SetEntryTimeout(layoutTimeout)
	out.SetAttrTimeout(layoutTimeout)
	switch {
	case e.Dir != nil:
		d.m.dirAttr(&out.Attr, e.ModTime)
		return d.NewInode(ctx, &layoutDir{m: d.m, path: p}, fs.StableAttr{Mode: fuse.S_IFDIR, Ino: ino("layout", p)}), 0
	case e.Snapshot != nil:
		n := browse.Root(e.Snapshot)
		child := &treeNode{m: d.m, n: n, snap: e.Snapshot.ID.String()}
		child.attr(&out.Attr)
		return d.NewInode(ctx, child, fs.StableAttr{Mode: fuse.S_IFDIR, Ino: ino("snapshot", p, e.Snapshot.ID.String())}), 0
	default:
		child := &linkNode{m: d.m, target: e.Link, t: e.ModTime}
		child.attr(&out.Attr)
		return d.NewInode(ctx, child, fs.StableAttr{Mode: fuse.S_IFLNK, Ino: ino("link", p, e.Link)}), 0
	}
}

// linkNode is a "latest" symlink of the layout.
type linkNode struct {
	fs.Inode
	m      *mnt
	target string
	t      time.Time
}

var _ fs.NodeReadlinker = (*linkNode)(nil)

func (l *linkNode) attr(a *fuse.Attr) {
	a.Mode = fuse.S_IFLNK | 0o777
	a.Size = uint64(len(l.target))
	a.Nlink = 1
	a.Uid, a.Gid = l.m.uid, l.m.gid
	a.SetTimes(&l.t, &l.t, &l.t)
}

func (l *linkNode) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	l.attr(&out.Attr)
	out.Ino = l.StableAttr().Ino
	return 0
}

func (l *linkNode) Readlink(context.Context) ([]byte, syscall.Errno) {
	return []byte(l.target), 0
}

// fuseType returns the S_IF* bits of a tree node's type.
func fuseType(n *tree.Node) uint32 {
	switch n.Type {
	case tree.TypeDir:
		return fuse.S_IFDIR
	case tree.TypeSymlink:
		return fuse.S_IFLNK
	case tree.TypeDev:
		return syscall.S_IFBLK
	case tree.TypeCharDev:
		return syscall.S_IFCHR
	case tree.TypeFifo:
		return fuse.S_IFIFO
	case tree.TypeSocket:
		return syscall.S_IFSOCK
	}
	return fuse.S_IFREG
}
