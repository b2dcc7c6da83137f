package restorer

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"unsafe"

	"github.com/cairn-backup/cairn/internal/tree"
	"golang.org/x/sys/unix"
)

// createSpecial creates a symlink, fifo or device node at p, replacing
// whatever is there.
func createSpecial(p string, n *tree.Node) error {
	if fi, err := os.Lstat(p); err == nil {
		if n.Type == tree.TypeSymlink && fi.Mode()&os.ModeSymlink != 0 {
			if t, err := os.Readlink(p); err == nil && t == n.LinkTarget {
				return nil
			}
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	switch n.Type {
	case tree.TypeSymlink:
		return os.Symlink(n.LinkTarget, p)
	case tree.TypeFifo:
		return unix.Mkfifo(p, 0o600)
	case tree.TypeDev:
		return unix.Mknod(p, unix.S_IFBLK|0o600, int(n.Device))
	case tree.TypeCharDev:
		return unix.Mknod(p, unix.S_IFCHR|0o600, int(n.Device))
	}
	return fmt.Errorf("cannot create a node of type %q", n.Type)
}

// applyMetadata sets owner (when root), mode, extended attributes and
// times on p, in that order (chown clears setuid bits; writing xattrs
// would not change mtime, but order them before times anyway).
func (r *Restorer) applyMetadata(p string, n *tree.Node) error {
	var errs []error
	if os.Geteuid() == 0 {
		uid, gid := int(n.UID), int(n.GID)
		if r.opts.OwnershipByName {
			uid, gid = ownerByName(n.User, n.Group, uid, gid)
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			errs = append(errs, fmt.Errorf("chown: %w", err))
		}
	}
	if n.Type != tree.TypeSymlink {
		if err := unix.Chmod(p, unixMode(n.Mode)); err != nil {
			errs = append(errs, fmt.Errorf("chmod: %w", err))
		}
	}
	for _, x := range n.ExtendedAttributes {
		if r.opts.Xattr != nil && !r.opts.Xattr(x.Name) {
			continue
		}
		if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
			errs = append(errs, fmt.Errorf("set xattr %s: %w", x.Name, err))
		}
	}
	ts := []unix.Timespec{
		unix.NsecToTimespec(n.AccessTime.UnixNano()),
		unix.NsecToTimespec(n.ModTime.UnixNano()),
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, fmt.Errorf("set times: %w", err))
	}
	return errors.Join(errs...)
}

// applyMetadataFd is applyMetadata for a regular file open as fd: the
// calls on the descriptor skip the path lookups. ours says that this
// process created the file in a directory it created (without the setgid
// bit yet), so the file is owned by the process's user and group.
func (r *Restorer) applyMetadataFd(fd int, m *fileMeta, ours bool) error {
	var errs []error
	var rare rareMeta
	if m.rare != nil {
		rare = *m.rare
	}
	if isRoot {
		uid, gid := int(m.uid), int(m.gid)
		if r.opts.OwnershipByName {
			uid, gid = ownerByName(rare.user, rare.group, uid, gid)
		}
		if ours && uid == euid && gid == egid {
			// Already so: skip the call (one per file).
		} else if err := unix.Fchown(fd, uid, gid); err != nil {
			errs = append(errs, fmt.Errorf("chown: %w", err))
		}
	}
	if err := unix.Fchmod(fd, unixMode(m.mode)); err != nil {
		errs = append(errs, fmt.Errorf("chmod: %w", err))
	}
	for _, x := range rare.xattrs {
		if r.opts.Xattr != nil && !r.opts.Xattr(x.Name) {
			continue
		}
		if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
			errs = append(errs, fmt.Errorf("set xattr %s: %w", x.Name, err))
		}
	}
	ts := [2]unix.Timespec{unix.NsecToTimespec(m.atime), unix.NsecToTimespec(m.mtime)}
	// futimens: utimensat on the descriptor itself (a NULL path).
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		errs = append(errs, fmt.Errorf("set times: %w", e))
	}
	return errors.Join(errs...)
}

var (
	euid, egid = os.Geteuid(), os.Getegid()
	isRoot     = euid == 0
)

// ownerByName looks the node's user and group names up on this system;
// a name that is missing or unknown keeps the numeric ID.
func ownerByName(userName, groupName string, uid, gid int) (int, int) {
	if userName != "" {
		if u, err := user.Lookup(userName); err == nil {
			if v, err := strconv.Atoi(u.Uid); err == nil {
				uid = v
			}
		}
	}
	if groupName != "" {
		if g, err := user.LookupGroup(groupName); err == nil {
			if v, err := strconv.Atoi(g.Gid); err == nil {
				gid = v
			}
		}
	}
	return uid, gid
}

// unixMode converts Go's FileMode permission and special bits to st_mode
// bits for chmod.
func unixMode(m os.FileMode) uint32 {
	mode := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		mode |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		mode |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		mode |= unix.S_ISVTX
	}
	return mode
}
