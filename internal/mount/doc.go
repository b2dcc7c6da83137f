// Package mount serves a [browse.View] as a read-only FUSE file system
// (Linux, through github.com/hanwen/go-fuse/v2), laid out as restic's
// mount lays it out: directories of snapshots by the view's path
// templates, each snapshot's trees below its entry, "latest" symlinks.
//
// The layout is read from the view at every lookup and listing, so
// snapshots made after mounting appear within a second or two; the kernel
// is told to keep the names and attributes of the layout's directories
// for a second only, and those inside snapshots, which never change, for
// an hour. File contents are read on demand, blob by blob, through the
// view's bounded blob cache; the kernel's page cache keeps what was read.
//
// Inode numbers are stable hashes: of the parent's number and the name
// inside snapshots, of the path and what it names in the layout, so that
// a second lookup of the same node finds the same inode, and a "latest"
// link that now points elsewhere is a new one.
package mount
