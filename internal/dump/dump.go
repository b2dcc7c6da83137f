// Package dump writes what a snapshot holds in a form other programs read:
// a file's bytes, or a directory as a tar or zip archive. Everything is
// streamed: file content is loaded blob by blob, a few blobs ahead of the
// writer, and never held in memory as a whole.
//
// # Entry names
//
// As in restic 0.14, archive entries are named by their full path in the
// snapshot without the leading slash: dumping /home/user/src gives
// entries "home/user/src/a.txt" and so on, and the dumped directory itself
// is not an entry. Directories end in a slash.
//
// # What each format keeps
//
// Tar ([Tar]) keeps regular files, directories, symlinks, fifos and device
// nodes with their permission bits (setuid, setgid and sticky included),
// owner IDs and names, and the modification time to the nanosecond (as a
// PAX record). A second path to a hardlinked file (same device and inode
// within one dump, with the same content) becomes a tar hardlink. Extended
// attributes become SCHILY.xattr.* PAX records, and POSIX ACLs
// SCHILY.acl.access and SCHILY.acl.default, which GNU tar restores with
// --xattrs and --acls. Sockets are left out.
//
// Zip ([Zip]) keeps regular files (deflated), directories and symlinks
// (the target as the entry's content, as Info-ZIP does), with their mode
// and modification time. Zip has no portable way to store fifos and
// devices, so those are left out, and hardlinked files are stored in full
// each time.
package dump

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// Loader reads blobs. It must be safe for concurrent use: file content is
// loaded a few blobs ahead, each blob on its own goroutine.
type Loader = walker.Loader

// readAhead is how many blobs of a file are being loaded while the writer
// waits for the first of them. It bounds the memory a dump holds to about
// readAhead times the largest chunk (8 MiB).
const readAhead = 4

// Content writes the data blobs of a file to w in order and returns the
// number of bytes written.
func Content(ctx context.Context, l Loader, w io.Writer, content []id.ID) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	type result struct {
		buf []byte
		err error
	}
	queue := make([]chan result, 0, readAhead)
	next := 0
	var written int64
	for range content {
		for next < len(content) && len(queue) < readAhead {
			ch := make(chan result, 1) // never blocks the loader
			bid := content[next]
			wg.Go(func() {
				buf, err := l.LoadBlob(ctx, blob.Handle{ID: bid, Type: blob.Data})
				ch <- result{buf, err}
			})
			queue = append(queue, ch)
			next++
		}
		r := <-queue[0]
		queue = queue[1:]
		if r.err != nil {
			return written, r.err
		}
		n, err := w.Write(r.buf)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// File writes the content of the file node n to w.
func File(ctx context.Context, l Loader, w io.Writer, n *tree.Node) error {
	if n.Type != tree.TypeFile {
		return fmt.Errorf("%s is a %s, not a file", n.Name, n.Type)
	}
	_, err := Content(ctx, l, w, n.Content)
	return err
}

// Archive receives the entries of a dump, one at a time.
type Archive interface {
	// Add writes the entry name for the node n, reading a file's content
	// as it goes. Nodes of a type the format cannot hold are skipped
	// without error.
	Add(ctx context.Context, name string, n *tree.Node) error
	// Close finishes the archive. It does not close the underlying writer.
	Close() error
}

// Tree adds every node below the tree root to a, depth first in name
// order. dir is the root's path in the snapshot ("/" for the whole
// snapshot); entries are named by their path without the leading slash.
// Tree does not close a.
func Tree(ctx context.Context, l Loader, a Archive, dir string, root id.ID) error {
	return walker.Walk(ctx, l, root, walker.Options{Prefix: dir}, func(p string, n *tree.Node, _ id.ID) error {
		return a.Add(ctx, strings.TrimPrefix(p, "/"), n)
	})
}
