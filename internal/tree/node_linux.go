package tree

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NodeFromPath returns the node restic 0.14 records for the file at path,
// given fi from os.Lstat(path). The node's name is fi.Name(). Content (for
// files, initially empty but not nil) and Subtree (for directories) are left
// to the caller.
//
// If the extended attributes cannot be listed or read, the node is returned
// together with an error, unless IgnoreXattrErrors is set. A file system
// without extended attribute support is not an error.
//
// Restic's archiver does not store sockets; callers must skip them.
func (o NodeOptions) NodeFromPath(path string, fi os.FileInfo) (*Node, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("node %s: no stat data in file info", path)
	}
	n, err := newNode(fi.Name(), fi.Mode())
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", path, err)
	}
	n.UID, n.GID = st.Uid, st.Gid
	n.User, n.Group = userName(st.Uid), groupName(st.Gid)
	n.Inode = uint64(st.Ino)
	n.DeviceID = uint64(st.Dev)
	o.setTimes(n,
		time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		time.Unix(int64(st.Atim.Sec), int64(st.Atim.Nsec)),
		time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)))

	switch n.Type {
	case TypeFile:
		n.Size = uint64(st.Size)
		n.Links = uint64(st.Nlink)
	case TypeSymlink:
		if n.LinkTarget, err = os.Readlink(path); err != nil {
			return nil, fmt.Errorf("node %s: %w", path, err)
		}
		n.Links = uint64(st.Nlink)
		return n, nil // restic does not record xattrs of symlinks
	case TypeDev, TypeCharDev:
		n.Device = uint64(st.Rdev)
		n.Links = uint64(st.Nlink)
	}

	if n.ExtendedAttributes, err = readXattrs(path); err != nil && !o.IgnoreXattrErrors {
		return n, fmt.Errorf("node %s: %w", path, err)
	}
	return n, nil
}

// readXattrs returns the extended attributes of path (not following a
// symlink) in the order the kernel lists them. An attribute that disappears
// between listing and reading (ENODATA) is kept with a nil value, encoded as
// null, which is what restic's error handling makes of it.
// Errors reading one attribute do not stop the others; they are joined.
func readXattrs(path string) ([]ExtendedAttribute, error) {
	names, err := listXattrs(path)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	attrs := make([]ExtendedAttribute, 0, len(names))
	var errs []error
	for _, name := range names {
		v, err := getXattr(path, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		attrs = append(attrs, ExtendedAttribute{Name: name, Value: v})
	}
	return attrs, errors.Join(errs...)
}

// ignorableXattrErr reports errors restic treats as "no attributes": the file
// system does not support them, or the attribute is gone.
func ignorableXattrErr(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENODATA)
}

func listXattrs(path string) ([]string, error) {
	buf := make([]byte, 256)
	sz, err := unix.Llistxattr(path, buf)
	for errors.Is(err, unix.ERANGE) {
		// Too small: ask for the size and try again (it may grow meanwhile).
		if sz, err = unix.Llistxattr(path, nil); err == nil {
			buf = make([]byte, sz+64)
			sz, err = unix.Llistxattr(path, buf)
		}
	}
	if err != nil {
		if ignorableXattrErr(err) {
			return nil, nil
		}
		return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
	}
	var names []string
	for b := buf[:sz]; len(b) > 0; {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			names = append(names, string(b[:i]))
		}
		if i < len(b) {
			i++ // the NUL
		}
		b = b[i:]
	}
	return names, nil
}

// getXattr reads one attribute. An empty value is returned as a non-nil empty
// slice, a vanished one as nil.
func getXattr(path, name string) ([]byte, error) {
	buf := make([]byte, 128)
	sz, err := unix.Lgetxattr(path, name, buf)
	for errors.Is(err, unix.ERANGE) {
		if sz, err = unix.Lgetxattr(path, name, nil); err == nil {
			buf = make([]byte, sz+64)
			sz, err = unix.Lgetxattr(path, name, buf)
		}
	}
	if err != nil {
		return xattrErr(path, name, err)
	}
	return buf[:sz:sz], nil
}

func xattrErr(path, name string, err error) ([]byte, error) {
	if ignorableXattrErr(err) {
		return nil, nil
	}
	return nil, &os.PathError{Op: "lgetxattr " + name, Path: path, Err: err}
}
