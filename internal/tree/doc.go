// Package tree holds the directory listing of a restic repository: the
// [Tree] blob, its [Node] entries, their exact JSON encoding, and the code
// that fills a Node from the file system.
//
// # Byte identity
//
// A tree blob's ID is the SHA-256 of its JSON. Two programs deduplicate each
// other's trees only if they write the same bytes for the same directory, so
// [Tree.Encode] reproduces what the restic 0.14.0 binary writes, byte for
// byte, and the tests check that against the real binary. The rules are:
//
//   - The blob is {"nodes":[...]} followed by a newline; an empty directory is
//     {"nodes":[]}. Nodes are sorted by name in byte order.
//   - Each node's keys come in a fixed order: name, type, mode, mtime, atime,
//     ctime, uid, gid, user, group, inode, device_id, size, links, linktarget,
//     extended_attributes, device, content, subtree. Keys that are zero are
//     left out, except name, type, the three times, uid, gid and content.
//     content is null for everything but regular files, which have [] when
//     empty. (linktarget_raw and error, which later restic versions write, are
//     encoded in their places when set; 0.14 never sets them.)
//   - The name is first quoted as Go's strconv.Quote would, without the
//     surrounding quotes, using Go 1.19's Unicode 13.0.0 tables for which
//     runes are printable (restic 0.14.0 was built with Go 1.19), then
//     written as a JSON string.
//   - JSON strings follow Go 1.19's encoding/json: <, > and & become \u003c,
//     \u003e and \u0026; invalid UTF-8 becomes \ufffd; U+2028 and U+2029 are
//     escaped; control characters other than \n, \r and \t become \u00XX
//     (Go 1.22 and later would write \b and \f instead).
//   - Times are RFC 3339 with nanoseconds, trailing zeros dropped, in the
//     zone the time carries (restic uses the local zone). A year outside
//     [0, 9999] cannot be encoded; [NodeFromPath] clamps it first, as restic
//     does.
//   - Extended attribute values are standard base64; a nil value is null.
//
// # What restic 0.14 records
//
// For every node: mode (Go's os.FileMode bits), mtime, atime, ctime, uid,
// gid, user and group names (left out when the ID has no name), inode and
// device_id. Regular files add size and links; symlinks add links and
// linktarget; block and character devices add links and device (st_rdev).
// Directories, fifos and sockets have no links. Extended attributes are
// recorded for every type except symlinks, in the order the kernel lists
// them (not sorted). Without --with-atime, atime is a copy of mtime.
// The archiver skips sockets altogether.
//
// # What an archiver must do to match
//
//   - Build every node, including the directories, from an lstat (or an
//     fstat of the opened file) taken before reading; restic 0.14 then sets
//     O_NOATIME on files and directories it reads (fcntl F_SETFL after open,
//     where the kernel allows it), so their atime stays unchanged.
//   - Skip sockets. Give empty files content [] (NodeFromPath does).
//   - For an absolute backup path such as /tmp/x/src, the snapshot's root tree
//     holds one node "tmp", whose subtree holds one node "x", and so on down
//     to "src". Each of these is a full node of the real directory (mode,
//     times, owner, inode, device_id, xattrs), as NodeFromPath makes it.
//
// # Decoding
//
// [Decode] parses the layout restic writes without reflection and hands
// anything else (escapes, unknown or differently cased keys, odd numbers)
// to encoding/json; a differential fuzz test holds the two to the same
// result. It accepts unknown keys. It turns the \ufffd escape, which Go's JSON
// encoder writes only for a byte that is not UTF-8, into the byte 0xff, so
// that a decoded tree encodes to the bytes it came from.
package tree
