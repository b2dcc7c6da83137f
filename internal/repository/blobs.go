package repository

import (
	"context"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
)

// Index returns the index loaded by LoadIndex, or nil.
func (r *Repository) Index() *index.Index { return r.idx.Load() }

// LoadIndex reads every index file into a new in-memory index, which the
// repository also keeps for SaveBlob and Index.
func (r *Repository) LoadIndex(ctx context.Context) (*index.Index, error) {
	idx, err := r.loadIndexFiles(ctx, false, nil)
	if err != nil {
		return nil, err
	}
	if c, ok := backend.As[backend.Cacher](r.be); ok {
		// Cached packs the index no longer knows are garbage (pruned);
		// the cache keeps young ones, which another process may be
		// about to index.
		c.ClearPacks(func(name string) bool {
			pid, err := id.Parse(name)
			return err == nil && idx.HasPack(pid)
		})
	}
	return idx, nil
}

// BlobSize returns the plaintext size of a blob and whether the loaded
// index knows it.
func (r *Repository) BlobSize(h blob.Handle) (uint32, bool) {
	idx := r.idx.Load()
	if idx == nil {
		return 0, false
	}
	return idx.Size(h)
}

// LoadBlob reads a blob through the loaded index, trying each copy until
// one decrypts, decompresses and hashes to its ID.
func (r *Repository) LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error) {
	idx := r.idx.Load()
	if idx == nil {
		return nil, fmt.Errorf("load blob %v: index not loaded", h)
	}
	entries := idx.Lookup(h)
	if len(entries) == 0 {
		return nil, fmt.Errorf("blob %v not found in index", h)
	}
	var lastErr error
	for _, e := range entries {
		buf, err := r.loadBlobAt(ctx, h, e)
		if err == nil {
			return buf, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (r *Repository) loadBlobAt(ctx context.Context, h blob.Handle, e blob.PackedBlob) ([]byte, error) {
	ph := backend.Handle{Type: backend.PackFile, Name: e.PackID.String()}
	if h.Type == blob.Tree {
		// Tree packs are worth keeping locally: every backup and restore
		// reads them. A cache problem only means reading from the backend.
		if c, ok := backend.As[backend.Cacher](r.be); ok {
			_ = c.Warm(ctx, ph)
		}
	}
	raw := make([]byte, e.Length)
	err := r.be.Load(ctx, ph, int(e.Length), int64(e.Offset), func(rd io.Reader) error {
		_, err := io.ReadFull(rd, raw)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load blob %v from pack %v: %w", h, e.PackID.Str(), err)
	}
	plain, err := r.key.OpenInPlace(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: blob %v in pack %v: %v", ErrInvalidData, h, e.PackID.Str(), err)
	}
	if e.UncompressedLength != 0 {
		plain, err = r.codec.decompress(make([]byte, 0, e.UncompressedLength), plain)
		if err != nil {
			return nil, fmt.Errorf("blob %v in pack %v: %w", h, e.PackID.Str(), err)
		}
		if len(plain) != int(e.UncompressedLength) {
			return nil, fmt.Errorf("%w: blob %v: decompressed to %d bytes, want %d", ErrInvalidData, h, len(plain), e.UncompressedLength)
		}
	}
	if id.Hash(plain) != h.ID {
		return nil, fmt.Errorf("%w: blob %v in pack %v: content does not match its ID", ErrInvalidData, h, e.PackID.Str())
	}
	return plain, nil
}

// Find resolves an ID or unique ID prefix among the files of type t.
func Find(ctx context.Context, be backend.Backend, t backend.FileType, prefix string) (id.ID, error) {
	if v, err := id.Parse(prefix); err == nil {
		return v, nil
	}
	var match []string
	err := be.List(ctx, t, func(fi backend.FileInfo) error {
		if _, err := id.Parse(fi.Name); err != nil {
			return nil // not a repository file (a temp file, say)
		}
		if len(fi.Name) >= len(prefix) && fi.Name[:len(prefix)] == prefix {
			match = append(match, fi.Name)
		}
		return nil
	})
	if err != nil {
		return id.ID{}, fmt.Errorf("list %v: %w", t, err)
	}
	switch len(match) {
	case 0:
		return id.ID{}, fmt.Errorf("no %v file matches %q: %w", t, prefix, backend.ErrNotExist)
	case 1:
		return id.Parse(match[0])
	}
	return id.ID{}, fmt.Errorf("prefix %q matches %d %v files", prefix, len(match), t)
}

// HasBlob reports whether the loaded index has a blob. Blobs of the
// current write session count once their pack is uploaded; those still in
// open packs do not (SaveBlob itself knows them).
func (r *Repository) HasBlob(h blob.Handle) bool {
	idx := r.idx.Load()
	return idx != nil && idx.Has(h)
}

// ListSnapshots calls fn with the ID of every snapshot file.
func (r *Repository) ListSnapshots(ctx context.Context, fn func(id.ID) error) error {
	return r.be.List(ctx, backend.SnapshotFile, func(fi backend.FileInfo) error {
		sid, err := id.Parse(fi.Name)
		if err != nil {
			return nil
		}
		return fn(sid)
	})
}

// LoadSnapshotJSON returns the JSON document of a snapshot file.
func (r *Repository) LoadSnapshotJSON(ctx context.Context, sid id.ID) ([]byte, error) {
	return r.LoadUnpacked(ctx, backend.SnapshotFile, sid)
}
