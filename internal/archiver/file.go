package archiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/chunker"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
)

// fileJob is a regular file waiting for a worker.
type fileJob struct {
	path  string
	node  *tree.Node
	state FileState
	f     *future
}

// saveFile completes a file node: from the parent snapshot when the file
// is unchanged, otherwise by queueing it for a worker.
func (a *Archiver) saveFile(ctx context.Context, path string, node, old *tree.Node) *future {
	state := FileNew
	if old != nil {
		state = FileChanged
		if !a.opts.Force && a.unchanged(old, node) {
			node.Content = old.Content
			a.prog.AddBytes(node.Size)
			a.fileDone(path, node.Size, FileUnmodified, fileStats{})
			return done(node)
		}
	}
	f := newFuture()
	select {
	case a.jobs <- fileJob{path: path, node: node, state: state, f: f}:
	case <-ctx.Done():
		f.fail(context.Cause(ctx))
	}
	return f
}

// unchanged reports whether old (from the parent) still describes the file
// node n describes, and all of old's content is in the repository.
func (a *Archiver) unchanged(old, n *tree.Node) bool {
	if old.Type != "file" || old.Size != n.Size || !old.ModTime.Equal(n.ModTime) {
		return false
	}
	if !a.opts.IgnoreCtime && !old.ChangeTime.Equal(n.ChangeTime) {
		return false
	}
	if !a.opts.IgnoreInode && old.Inode != n.Inode {
		return false
	}
	for _, c := range old.Content {
		if !a.repo.HasBlob(blob.Handle{ID: c, Type: blob.Data}) {
			return false
		}
	}
	return true
}

// fileStats is what one file added to the repository.
type fileStats struct {
	took          time.Duration
	added, stored uint64
}

func (a *Archiver) fileDone(path string, size uint64, state FileState, st fileStats) {
	a.mu.Lock()
	switch state {
	case FileNew:
		a.summary.FilesNew++
	case FileChanged:
		a.summary.FilesChanged++
	case FileUnmodified:
		a.summary.FilesUnmodified++
	}
	a.summary.TotalFilesProcessed++
	a.summary.TotalBytesProcessed += size
	a.mu.Unlock()
	a.prog.AddFiles(1)
	if a.prog.Verbose() {
		e := ui.Event{Action: state.action(), Item: a.snapPath(path), Size: size}
		if state != FileUnmodified {
			e.Duration, e.DataAdded, e.DataAddedPacked = st.took, st.added, st.stored
		}
		a.prog.Event(e)
	}
}

// worker holds what one file worker reuses from file to file.
type worker struct {
	a     *Archiver
	chunk *chunker.Chunker
	buf   []byte // chunk buffer; see buffer
}

// buffer returns the worker's buffer with room for n bytes. It grows as
// needed, so that a worker that reads only small files (or none, as in an
// unchanged backup) never holds a buffer of chunker.MaxSize.
func (w *worker) buffer(n int) []byte {
	if cap(w.buf) < n {
		w.buf = make([]byte, 0, n)
	}
	return w.buf[:0]
}

// fileWorker reads queued files until the queue closes. It returns an
// error only for repository failures, which end the backup.
func (a *Archiver) fileWorker(ctx context.Context) error {
	w := &worker{a: a}
	for job := range a.jobs {
		if ctx.Err() != nil {
			job.f.fail(context.Cause(ctx))
			continue
		}
		item := ""
		if a.prog != nil {
			item = a.snapPath(job.path)
			a.prog.StartItem(item)
		}
		st, err := w.read(ctx, job)
		if a.prog != nil {
			st.took = a.prog.DoneItem(item)
		}
		var fatal *fatalError
		switch {
		case errors.As(err, &fatal):
			job.f.fail(fatal.err)
			a.cancel(fatal.err)
			return fatal.err
		case err != nil:
			job.f.complete(nil)
			a.skip(job.path, err)
		default:
			a.fileDone(job.path, job.node.Size, job.state, st)
			job.f.complete(job.node)
		}
	}
	return nil
}

// fatalError wraps errors that must end the backup (repository failures),
// as opposed to problems with one file.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

// read chunks one file into the repository and fills in the node's
// content and size.
func (w *worker) read(ctx context.Context, job fileJob) (st fileStats, _ error) {
	f, err := openNoAtime(job.path)
	if err != nil {
		return st, err
	}
	defer func() { _ = f.Close() }()
	before, err := f.Stat()
	if err != nil {
		return st, err
	}
	if !before.Mode().IsRegular() {
		return st, fmt.Errorf("no longer a regular file")
	}
	content := make([]id.ID, 0, 1+before.Size()/(1<<20))
	var size uint64
	save := func(data []byte) error {
		bid, known, stored, err := w.a.repo.SaveBlob(ctx, blob.Data, data, id.ID{})
		if err != nil {
			return &fatalError{err: err}
		}
		content = append(content, bid)
		size += uint64(len(data))
		if !known {
			st.added += uint64(len(data))
			st.stored += uint64(stored)
		}
		w.a.prog.AddBytes(uint64(len(data)))
		return nil
	}

	var rd io.Reader = f
	if before.Size() < int64(chunker.MinSize) {
		// Files below the minimum chunk size are one blob: skip the chunker.
		// One byte more than the size is asked for: a short read of a
		// regular file is its end, which saves the read(2) that would
		// only report EOF.
		buf := w.buffer(chunker.MinSize)[:min(chunker.MinSize, int(before.Size())+1)]
		n, err := io.ReadAtLeast(f, buf, min(len(buf), max(1, int(before.Size()))))
		if err == nil && n < len(buf) {
			err = io.EOF // the file ends where fstat said
		}
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			if n > 0 {
				if err := save(buf[:n]); err != nil {
					return st, err
				}
			}
			rd = nil
		case err != nil:
			return st, readError(job.path, err)
		default:
			// It grew past the minimum since lstat: chunk what was read
			// and the rest.
			rd = io.MultiReader(bytes.NewReader(bytes.Clone(buf[:n])), f)
		}
	}
	if rd != nil {
		if w.chunk == nil {
			w.chunk = chunker.New(rd, w.a.opts.Polynomial)
		} else {
			w.chunk.Reset(rd, w.a.opts.Polynomial)
		}
		for {
			c, err := w.chunk.Next(w.buffer(chunker.MaxSize))
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return st, readError(job.path, err)
			}
			if err := save(c.Data); err != nil {
				return st, err
			}
			if ctx.Err() != nil {
				return st, &fatalError{err: context.Cause(ctx)}
			}
		}
	}

	after, err := f.Stat()
	if err == nil && (after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || int64(size) != before.Size()) {
		w.a.prog.Problem(ui.Problem{During: "archival", Item: job.path, Err: ErrFileChanged, Warning: true})
	}
	job.node.Content = content
	job.node.Size = size
	return st, nil
}

// readError words a failed read as restic does.
func readError(path string, err error) error {
	return fmt.Errorf("failed to save %s: %w", path, err)
}

// openNoAtime opens a file for reading without updating its access time
// where the kernel allows it (owner or root), as restic does, so that a
// backup does not change what the next backup records.
//
// It opens with open(2) and wraps the descriptor with os.NewFile, which
// costs one fcntl: os.OpenFile would try to add the descriptor to the
// network poller, which takes four fcntl and an epoll_ctl that fail for
// files and directories, per file.
func openNoAtime(path string) (*os.File, error) {
	const flags = syscall.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	fd, err := openRetry(path, flags|syscall.O_NOATIME)
	if err == syscall.EPERM {
		fd, err = openRetry(path, flags)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openRetry is open(2), again on EINTR.
func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(path, flags, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
