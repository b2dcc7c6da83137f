package repository

import (
	"context"
	"io"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
)

// FindFile returns the ID of the one file of type t whose name starts
// with prefix (see [Find]).
func (r *Repository) FindFile(ctx context.Context, t backend.FileType, prefix string) (id.ID, error) {
	return Find(ctx, r.be, t, prefix)
}

// ListFiles calls fn for every file of type t in the backend, in the
// backend's order; an error from fn stops the listing and is returned.
func (r *Repository) ListFiles(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	return r.be.List(ctx, t, fn)
}

// RemoveFile deletes the file fid of type t. The backend's error is
// returned as it is, [backend.ErrNotExist] included.
func (r *Repository) RemoveFile(ctx context.Context, t backend.FileType, fid id.ID) error {
	if t != backend.LockFile {
		if err := r.waitWriteGate(ctx); err != nil {
			return err
		}
	}
	return r.be.Remove(ctx, backend.Handle{Type: t, Name: fid.String()})
}

// RemoveSnapshot deletes the snapshot file sid; see [Repository.RemoveFile].
func (r *Repository) RemoveSnapshot(ctx context.Context, sid id.ID) error {
	return r.RemoveFile(ctx, backend.SnapshotFile, sid)
}

// LoadRaw calls fn with the stored bytes of the file fid of type t, as
// they are in the backend: neither decrypted nor checked.
func (r *Repository) LoadRaw(ctx context.Context, t backend.FileType, fid id.ID, fn func(io.Reader) error) error {
	return r.be.Load(ctx, backend.Handle{Type: t, Name: fid.String()}, 0, 0, fn)
}
