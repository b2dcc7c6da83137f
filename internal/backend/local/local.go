// Package local stores a repository in a directory on a local filesystem,
// in restic's layout: config, keys/, locks/, snapshots/, index/ and data/xx/.
//
// Every write goes to a temporary file in the target directory, is synced,
// made read-only, renamed into place, and the directory is synced, so a
// crash leaves either the old state or the complete new file.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Backend is a repository directory on a local filesystem.
type Backend struct {
	path     string
	fileMode os.FileMode
	dirMode  os.FileMode
}

var _ backend.Backend = (*Backend)(nil)

// tmpMarker is part of every temporary file name; List skips such files.
const tmpMarker = "-tmp-"

// Open returns a backend for an existing directory. It does not check that
// a repository is there; loading the config does.
func Open(path string) (*Backend, error) {
	b := &Backend{path: filepath.Clean(path), fileMode: 0o600, dirMode: 0o700}
	if fi, err := os.Stat(b.filename(backend.Handle{Type: backend.ConfigFile})); err == nil && fi.Mode().Perm()&0o040 != 0 {
		b.fileMode, b.dirMode = 0o660, 0o770
	}
	return b, nil
}

// Create makes the directory structure for a new repository at path. It
// fails if a config file is already there.
func Create(path string) (*Backend, error) {
	b, _ := Open(path)
	if _, err := os.Lstat(b.filename(backend.Handle{Type: backend.ConfigFile})); err == nil {
		return nil, backend.Permanent(fmt.Errorf("config file already exists in %s", b.path))
	}
	dirs := []string{b.path}
	for _, t := range []backend.FileType{backend.KeyFile, backend.LockFile, backend.SnapshotFile, backend.IndexFile, backend.PackFile} {
		dirs = append(dirs, filepath.Join(b.path, t.String()))
	}
	for i := 0; i < 256; i++ {
		dirs = append(dirs, filepath.Join(b.path, backend.PackFile.String(), fmt.Sprintf("%02x", i)))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, b.dirMode); err != nil {
			return nil, fmt.Errorf("create repository: %w", err)
		}
	}
	return b, nil
}

// Path returns the repository directory.
func (b *Backend) Path() string { return b.path }

// Properties implements backend.Backend.
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: 2, HasAtomicReplace: true}
}

func (b *Backend) dirname(h backend.Handle) string {
	switch h.Type {
	case backend.ConfigFile:
		return b.path
	case backend.PackFile:
		if len(h.Name) >= 2 {
			return filepath.Join(b.path, h.Type.String(), h.Name[:2])
		}
	}
	return filepath.Join(b.path, h.Type.String())
}

func (b *Backend) filename(h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return filepath.Join(b.path, "config")
	}
	return filepath.Join(b.dirname(h), h.Name)
}

func checkName(h backend.Handle) error {
	if h.Type == backend.ConfigFile {
		return nil
	}
	if h.Name == "" || strings.ContainsAny(h.Name, `/\`) || h.Name == "." || h.Name == ".." {
		return backend.Permanent(fmt.Errorf("invalid file name %q", h.Name))
	}
	return nil
}

func wrap(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return backend.NotExist(err)
	}
	return err
}

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) (err error) {
	if err := checkName(h); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := b.dirname(h)
	final := b.filename(h)
	tmp := filepath.Join(dir, tempName(filepath.Base(final)))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, b.fileMode)
	if errors.Is(err, fs.ErrNotExist) {
		// A directory was removed behind our back; recreate it once.
		if mkErr := b.recreate(dir); mkErr == nil {
			f, err = os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, b.fileMode)
		} else {
			err = mkErr
		}
	}
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, rd)
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if n != rd.Length() {
		return fmt.Errorf("save %v: wrote %d bytes, want %d", h, n, rd.Length())
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("save %v: fsync: %w", h, err)
	}
	if err = f.Chmod(b.fileMode &^ 0o222); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	testPauseBeforeRename(ctx, h)
	if err = os.Rename(tmp, final); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	cerr := d.Close()
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return cerr
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := checkName(h); err != nil {
		return err
	}
	if backend.InvalidRange(offset, length) {
		return backend.Permanent(fmt.Errorf("load %v: invalid range %d+%d", h, offset, length))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(b.filename(h))
	if err != nil {
		return wrap(err)
	}
	defer func() { _ = f.Close() }()
	if offset > 0 || length > 0 {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		end := fi.Size()
		if length > 0 {
			end = offset + int64(length)
		}
		if offset > fi.Size() || end > fi.Size() {
			return backend.Permanent(fmt.Errorf("load %v: range %d+%d beyond size %d", h, offset, length, fi.Size()))
		}
	}
	var rd io.Reader = f
	if offset > 0 {
		rd = io.NewSectionReader(f, offset, 1<<62)
	}
	if length > 0 {
		rd = io.LimitReader(rd, int64(length))
	}
	return fn(rd)
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := checkName(h); err != nil {
		return backend.FileInfo{}, err
	}
	fi, err := os.Stat(b.filename(h))
	if err != nil {
		return backend.FileInfo{}, wrap(err)
	}
	return backend.FileInfo{Name: h.Name, Size: fi.Size()}, nil
}

// List implements backend.Backend. Temporary files are skipped, and a
// directory that vanishes during the walk counts as empty.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	base := filepath.Join(b.path, t.String())
	if t == backend.ConfigFile {
		fi, err := os.Stat(filepath.Join(b.path, "config"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		return fn(backend.FileInfo{Name: "config", Size: fi.Size()})
	}
	dirs := []string{base}
	if t == backend.PackFile {
		subs, err := os.ReadDir(base)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		dirs = dirs[:0]
		for _, s := range subs {
			if s.IsDir() {
				dirs = append(dirs, filepath.Join(base, s.Name()))
			}
		}
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.IsDir() || strings.Contains(e.Name(), tmpMarker) {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			} else if err != nil {
				return err
			}
			if err := fn(backend.FileInfo{Name: e.Name(), Size: info.Size()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := checkName(h); err != nil {
		return err
	}
	return wrap(os.Remove(b.filename(h)))
}

// recreate makes dir again after it was removed behind our back, but
// never the repository directory itself: a repository that is gone (moved
// or deleted during the run) must not silently come back as a directory
// holding only what this run writes.
func (b *Backend) recreate(dir string) error {
	if _, err := os.Stat(b.path); err != nil {
		return fmt.Errorf("repository %s is gone: %w", b.path, err)
	}
	return os.MkdirAll(dir, b.dirMode)
}

// Close implements backend.Backend.
func (b *Backend) Close() error { return nil }

var _ backend.FileMover = (*Backend)(nil)

// TempFile implements backend.FileMover: the file is created in the type's
// directory (data/ for packs, beside the xx/ subdirectories) under a name
// List skips, so that MoveFile is a rename on the same file system.
func (b *Backend) TempFile(t backend.FileType) (*os.File, error) {
	dir := filepath.Join(b.path, t.String())
	pattern := "pack" + tmpMarker + writerTag() + "-*"
	f, err := os.CreateTemp(dir, pattern)
	if errors.Is(err, fs.ErrNotExist) {
		if mkErr := b.recreate(dir); mkErr == nil {
			f, err = os.CreateTemp(dir, pattern)
		} else {
			err = mkErr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("temporary file: %w", err)
	}
	if err := f.Chmod(b.fileMode); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// MoveFile implements backend.FileMover.
func (b *Backend) MoveFile(ctx context.Context, h backend.Handle, f *os.File) (err error) {
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := checkName(h); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("save %v: fsync: %w", h, err)
	}
	if err := f.Chmod(b.fileMode &^ 0o222); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	dir := b.dirname(h)
	final := b.filename(h)
	err = os.Rename(tmp, final)
	if errors.Is(err, fs.ErrNotExist) {
		if mkErr := b.recreate(dir); mkErr == nil {
			err = os.Rename(tmp, final)
		} else {
			err = mkErr
		}
	}
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return nil
}
