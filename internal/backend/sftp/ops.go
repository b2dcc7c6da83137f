package sftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/pkg/sftp"
)

// tmpMarker is part of every temporary file name. List skips such files,
// and restic ignores them because they are not valid IDs.
const tmpMarker = ".cairn-tmp-"

// streamMin is the size from which Load streams the file with many read
// requests in flight all along (File.WriteTo) instead of reading it in
// one buffered piece. Smaller ranges are read with one ReadAt, whose
// requests also go out at once.
const streamMin = 1 << 20

// Save implements backend.Backend. The data goes to a temporary file in
// the target directory, which is then made read-only and renamed into
// place (with posix-rename, replacing an existing file atomically, where
// the server offers it). A missing directory is created. On failure the
// temporary file is removed if the session still allows it.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := checkName(h); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer b.release()
	return b.fail(s, b.save(ctx, s, h, rd))
}

func (b *Backend) save(ctx context.Context, s *session, h backend.Handle, rd backend.RewindReader) (err error) {
	op := "save " + h.String()
	dir, final := b.dirname(h), b.filename(h)
	tmp := backend.TempName(final, tmpMarker)

	var f *sftp.File
	closed := false
	defer func() {
		if err == nil {
			return
		}
		if f != nil && !closed {
			_ = f.Close()
		}
		// Even a failed open may have created the file, its answer lost
		// with the connection.
		rmErr := s.pick().Remove(tmp)
		if rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			b.addOrphan(tmp) // the session is gone: remove it after reconnecting
		}
	}()
	flags := os.O_CREATE | os.O_EXCL | os.O_WRONLY
	f, err = s.pick().OpenFile(tmp, flags)
	if errors.Is(err, os.ErrNotExist) {
		// The directory is missing (removed, or never made): make it.
		if mkErr := s.pick().MkdirAll(dir); mkErr == nil {
			_ = s.pick().Chmod(dir, 0o700)
			f, err = s.pick().OpenFile(tmp, flags)
		}
	}
	if err != nil {
		f = nil
		return classify(op, err)
	}

	want := rd.Length()
	// Limiting to one byte more than promised both tells the client how
	// much is coming (for concurrent writes) and catches a long reader.
	n, err := f.ReadFrom(&io.LimitedReader{R: ctxReader{ctx: ctx, rd: sourceReader{rd}}, N: want + 1})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return classify(op, err)
	}
	if n != want {
		return backend.Permanent(fmt.Errorf("%s: read %d bytes, want %d", op, n, want))
	}
	closed = true
	if err := f.Close(); err != nil {
		return classify(op, err)
	}
	if err := s.pick().Chmod(tmp, 0o400); err != nil {
		return classify(op, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.posixRename {
		err = s.pick().PosixRename(tmp, final)
	} else {
		err = s.pick().Rename(tmp, final)
	}
	return classify(op, err)
}

// ctxReader fails reads once ctx is done, so that a cancelled Save stops.
type ctxReader struct {
	ctx context.Context
	rd  io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.rd.Read(p)
}

// sourceReader marks the errors of a Save's data source, so that they are
// not taken for a lost connection.
type sourceReader struct{ rd io.Reader }

func (r sourceReader) Read(p []byte) (int, error) {
	n, err := r.rd.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err: err}
	}
	return n, err
}

// Load implements backend.Backend. A range reaching beyond the end of the
// file is a Permanent error; reading zero bytes at the end is not. If fn
// fails because reading the file failed, the error is transient;
// otherwise fn's error is returned marked Permanent. fn holds one of the
// backend's operation slots while it runs.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := checkName(h); err != nil {
		return err
	}
	if length < 0 || offset < 0 {
		return backend.Permanent(fmt.Errorf("load %v: invalid range %d+%d", h, offset, length))
	}
	s, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer b.release()
	return b.fail(s, b.load(ctx, s, h, length, offset, fn))
}

func (b *Backend) load(ctx context.Context, s *session, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	op := "load " + h.String()
	p := b.filename(h)
	// Ask for the size while opening, to save a round trip.
	type statResult struct {
		fi  os.FileInfo
		err error
	}
	stc := make(chan statResult, 1)
	go func() {
		fi, err := s.pick().Stat(p)
		stc <- statResult{fi, err}
	}()
	f, err := s.pick().Open(p)
	st := <-stc
	if err != nil {
		return classify(op, err)
	}
	// Closing a file that was only read cannot fail in a way that matters
	// to the caller, so it is not waited for: one round trip less per
	// load.
	defer func() { go func() { _ = f.Close() }() }()
	if st.err != nil {
		return classify(op, st.err)
	}
	if st.fi.IsDir() {
		return backend.Permanent(fmt.Errorf("%s: is a directory", op))
	}
	size := st.fi.Size()
	end := size
	if length > 0 {
		end = offset + int64(length)
	}
	if offset > size || end > size {
		return backend.Permanent(fmt.Errorf("%s: range %d+%d beyond size %d", op, offset, length, size))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n := end - offset
	var tr *backend.ReadTracker
	if n >= streamMin {
		var finish func()
		tr, finish = stream(ctx, f, offset, n)
		err = fn(readOnly{tr})
		finish()
	} else {
		tr = &backend.ReadTracker{R: ctxReader{ctx: ctx, rd: io.NewSectionReader(f, offset, n)}}
		// Only Read is offered: bufio.Reader's WriteTo would hand the
		// unbuffered reader to an io.ReaderFrom (io.Copy into a file, a
		// hash, io.Discard), which then reads in small pieces, one round
		// trip each.
		err = fn(readOnly{bufio.NewReaderSize(tr, int(max(n, 16)))})
	}
	switch {
	case err == nil:
		return nil
	case tr.Err != nil && errors.Is(err, tr.Err):
		return fmt.Errorf("%s: %w", op, err)
	case tr.Err != nil:
		return fmt.Errorf("%s: %w (reading failed: %w)", op, err, tr.Err)
	}
	return backend.Permanent(err)
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := checkName(h); err != nil {
		return backend.FileInfo{}, err
	}
	s, err := b.acquire(ctx)
	if err != nil {
		return backend.FileInfo{}, err
	}
	defer b.release()
	fi, err := s.pick().Stat(b.filename(h))
	if err != nil {
		return backend.FileInfo{}, b.fail(s, classify("stat "+h.String(), err))
	}
	if fi.IsDir() {
		return backend.FileInfo{}, backend.Permanent(fmt.Errorf("stat %v: is a directory", h))
	}
	return backend.FileInfo{Name: h.Name, Size: fi.Size()}, nil
}

// List implements backend.Backend. Pack files are found in the data/xx
// subdirectories; temporary files and directories are skipped, and a
// missing directory counts as empty. fn runs without holding an operation
// slot, so it may call the backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.ConfigFile {
		fi, err := b.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
		if errors.Is(err, backend.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		fi.Name = "config"
		return fn(fi)
	}
	if err := checkName(backend.Handle{Type: t, Name: "x"}); err != nil {
		return err
	}
	base := path.Join(b.dir, t.String())
	dirs := []string{base}
	if t == backend.PackFile {
		subs, err := b.readDir(ctx, base)
		if err != nil {
			return err
		}
		dirs = dirs[:0]
		for _, e := range subs {
			if validName(e.Name()) && (e.IsDir() || e.Mode()&os.ModeSymlink != 0) {
				dirs = append(dirs, path.Join(base, e.Name()))
			}
		}
	}
	for _, d := range dirs {
		entries, err := b.readDir(ctx, d)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.IsDir() || !validName(e.Name()) || strings.Contains(e.Name(), tmpMarker) {
				continue
			}
			size := e.Size()
			if e.Mode()&os.ModeSymlink != 0 {
				fi, ok, err := b.statTarget(ctx, path.Join(d, e.Name()))
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				size = fi.Size()
			}
			if err := fn(backend.FileInfo{Name: e.Name(), Size: size}); err != nil {
				return err
			}
		}
	}
	return nil
}

// validName reports whether a name from a directory listing is one
// entry, not a path or "." or "..", which a broken server might send.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\")
}

// readDir lists dir; a missing directory is empty.
func (b *Backend) readDir(ctx context.Context, dir string) ([]os.FileInfo, error) {
	s, err := b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer b.release()
	entries, err := s.pick().ReadDirContext(ctx, dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, b.fail(s, classify("list "+dir, err))
	}
	return entries, nil
}

// statTarget follows a symbolic link found by List; ok is false when it
// dangles or leads to a directory.
func (b *Backend) statTarget(ctx context.Context, p string) (fi os.FileInfo, ok bool, err error) {
	s, err := b.acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	defer b.release()
	fi, err = s.pick().Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, b.fail(s, classify("stat "+p, err))
	}
	return fi, !fi.IsDir(), nil
}

// Remove implements backend.Backend. Removing a missing file returns an
// error matching backend.ErrNotExist.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := checkName(h); err != nil {
		return err
	}
	s, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer b.release()
	return b.fail(s, classify("remove "+h.String(), s.pick().Remove(b.filename(h))))
}

// readOnly hides every method of a reader but Read.
type readOnly struct{ rd io.Reader }

func (r readOnly) Read(p []byte) (int, error) { return r.rd.Read(p) }

// errEnough stops File.WriteTo once the range is delivered.
var errEnough = errors.New("sftp: range delivered")

// stream delivers n bytes of f from offset through a pipe, read by
// File.WriteTo, which keeps up to the client's limit of requests in flight
// the whole time, so a link's latency is paid once, not per buffer. The
// returned reader tracks read errors; finish must be called once fn is
// done with it, and waits for the reading to end.
func stream(ctx context.Context, f *sftp.File, offset, n int64) (*backend.ReadTracker, func()) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := f.Seek(offset, io.SeekStart)
		if err == nil {
			_, err = f.WriteTo(&cappedWriter{w: pw, left: n})
		}
		if errors.Is(err, errEnough) {
			err = nil
		}
		_ = pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	finish := func() {
		_ = pr.CloseWithError(errEnough) // stops a WriteTo that fn left
		<-done
	}
	return &backend.ReadTracker{R: ctxReader{ctx: ctx, rd: pr}}, finish
}

// cappedWriter passes on the first left bytes written to it, then fails
// with errEnough.
type cappedWriter struct {
	w    io.Writer
	left int64
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errEnough
	}
	short := int64(len(p)) > c.left
	if short {
		p = p[:c.left]
	}
	n, err := c.w.Write(p)
	c.left -= int64(n)
	if err == nil && short {
		err = errEnough
	}
	return n, err
}
