// Package mem is an in-memory [backend.Backend] for tests. It passes the
// same conformance suite (backendtest) as the real backends.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Backend keeps files in a map. It is safe for concurrent use.
type Backend struct {
	mu    sync.RWMutex
	files map[backend.Handle][]byte // guarded by mu; stored slices are never modified
}

var _ backend.Backend = (*Backend)(nil)

// New returns an empty backend.
func New() *Backend {
	return &Backend{files: make(map[backend.Handle][]byte)}
}

// Properties implements backend.Backend.
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: 8, HasAtomicReplace: true}
}

// key checks h and normalises it to a map key: the config file has no name.
func key(h backend.Handle) (backend.Handle, error) {
	if h.Type == backend.ConfigFile {
		return backend.Handle{Type: backend.ConfigFile}, nil
	}
	if h.Name == "" {
		return h, backend.Permanent(fmt.Errorf("invalid file name %q", h.Name))
	}
	return h, nil
}

func notExist(op string, h backend.Handle) error {
	return backend.NotExist(&fs.PathError{Op: op, Path: h.String(), Err: fs.ErrNotExist})
}

// Save implements backend.Backend. It copies the bytes of rd.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	h, err := key(h)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rd.Length() < 0 {
		return backend.Permanent(fmt.Errorf("save %v: negative length %d", h, rd.Length()))
	}
	buf := make([]byte, rd.Length())
	if n, err := io.ReadFull(rd, buf); err != nil {
		return fmt.Errorf("save %v: read %d bytes, want %d: %w", h, n, len(buf), err)
	}
	var extra [1]byte
	if n, _ := io.ReadFull(rd, extra[:]); n > 0 {
		return fmt.Errorf("save %v: reader is longer than %d bytes", h, len(buf))
	}
	b.mu.Lock()
	b.files[h] = buf
	b.mu.Unlock()
	return nil
}

// Load implements backend.Backend. fn runs without the lock held, so it
// may call back into the backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	h, err := key(h)
	if err != nil {
		return err
	}
	if backend.InvalidRange(offset, length) {
		return backend.Permanent(fmt.Errorf("load %v: invalid range %d+%d", h, offset, length))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	data, ok := b.files[h]
	b.mu.RUnlock()
	if !ok {
		return notExist("load", h)
	}
	size := int64(len(data))
	end := size
	if length > 0 {
		end = offset + int64(length)
	}
	if offset > size || end > size {
		return backend.Permanent(fmt.Errorf("load %v: range %d+%d beyond size %d", h, offset, length, size))
	}
	return fn(bytes.NewReader(data[offset:end]))
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	h, err := key(h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return backend.FileInfo{}, err
	}
	b.mu.RLock()
	data, ok := b.files[h]
	b.mu.RUnlock()
	if !ok {
		return backend.FileInfo{}, notExist("stat", h)
	}
	return backend.FileInfo{Name: h.Name, Size: int64(len(data))}, nil
}

// List implements backend.Backend. It works on a snapshot taken at the
// start, and fn runs without the lock held.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	var infos []backend.FileInfo
	b.mu.RLock()
	for h, data := range b.files {
		if h.Type != t {
			continue
		}
		name := h.Name
		if t == backend.ConfigFile {
			name = "config" // as the local backend lists it
		}
		infos = append(infos, backend.FileInfo{Name: name, Size: int64(len(data))})
	}
	b.mu.RUnlock()
	for _, fi := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	h, err := key(h)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.files[h]; !ok {
		return notExist("remove", h)
	}
	delete(b.files, h)
	return nil
}

// Close implements backend.Backend. The files stay readable.
func (b *Backend) Close() error { return nil }
