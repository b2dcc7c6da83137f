package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/restic/chunker"
)

// Options tune how a repository is written.
type Options struct {
	Compression Compression
	// KeyHint names a key file (or ID prefix) to try first.
	KeyHint string
	// Decorate, if set, is called by Open once the config is decrypted,
	// with the repository ID, and may put decorators (a cache) in front of
	// be; the repository uses what it returns from then on. A decorator
	// that cannot be set up should return be unchanged.
	Decorate func(repoID string, be backend.Backend) backend.Backend
	// Logger receives debug messages about opening the repository; nil
	// discards them.
	Logger *slog.Logger
	// IndexProgress, if set, is called by LoadIndex with the number of
	// index files once they are listed; LoadIndex counts each file read
	// with AddFiles(1) on what it returns and calls Finish at the end.
	IndexProgress func(total int) *ui.Progress
}

// Repository is an open repository: a backend, the master key and the
// config. It is safe for concurrent use.
type Repository struct {
	be    backend.Backend
	key   *crypto.Key
	keyID id.ID
	cfg   Config
	codec *codec
	opts  Options

	idx atomic.Pointer[index.Index] // set by LoadIndex
	w   *writer                     // set between StartWriting and Finish

	gate       atomic.Pointer[writeGate]       // see SetWriteGate
	indexFiles atomic.Pointer[[]id.ID]         // the index files LoadIndex read
	pending    atomic.Pointer[[]PendingRecord] // the pending prune records LoadIndex read

	fetched atomic.Int64 // pack bytes read by StreamPack
}

var configHandle = backend.Handle{Type: backend.ConfigFile}

// Config returns the repository config.
func (r *Repository) Config() Config { return r.cfg }

// Key returns the master key.
func (r *Repository) Key() *crypto.Key { return r.key }

// KeyID returns the ID of the key file the repository was opened with.
func (r *Repository) KeyID() id.ID { return r.keyID }

// InitOptions are the choices made when creating a repository.
type InitOptions struct {
	Version  uint
	Poly     chunker.Pol // zero: random
	Username string
	Hostname string
	Params   *KeyParams // nil: calibrate
}

// Init creates a repository on be: key file first, then the config. It
// refuses a backend that already holds a config, keys or snapshots.
func Init(ctx context.Context, be backend.Backend, password string, o InitOptions, opts Options) (*Repository, error) {
	if _, err := be.Stat(ctx, configHandle); err == nil {
		return nil, fmt.Errorf("%w: config file already exists", ErrAlreadyInitialized)
	} else if !errors.Is(err, backend.ErrNotExist) {
		return nil, fmt.Errorf("stat config: %w", err)
	}
	for _, t := range []backend.FileType{backend.KeyFile, backend.SnapshotFile} {
		found := errors.New("found")
		err := be.List(ctx, t, func(backend.FileInfo) error { return found })
		if errors.Is(err, found) {
			return nil, fmt.Errorf("%w: %v files exist", ErrAlreadyInitialized, t)
		} else if err != nil {
			return nil, fmt.Errorf("list %v: %w", t, err)
		}
	}
	cfg, err := NewConfig(o.Version, o.Poly)
	if err != nil {
		return nil, err
	}
	master, err := crypto.NewRandomKey()
	if err != nil {
		return nil, err
	}
	params := o.Params
	if params == nil {
		params = &KeyParams{}
	}
	kid, err := AddKey(ctx, be, password, o.Username, o.Hostname, master, params)
	if err != nil {
		return nil, err
	}
	r, err := newRepository(be, master, kid, cfg, opts)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := be.Save(ctx, configHandle, backend.NewByteReader(master.Seal(nil, plain))); err != nil {
		return nil, fmt.Errorf("save config: %w", err)
	}
	return r, nil
}

func newRepository(be backend.Backend, key *crypto.Key, kid id.ID, cfg Config, opts Options) (*Repository, error) {
	c, err := newCodec(opts.Compression)
	if err != nil {
		return nil, err
	}
	return &Repository{be: be, key: key, keyID: kid, cfg: cfg, codec: c, opts: opts}, nil
}

// Open finds the key for password and loads the config. It writes nothing.
// A missing config gives ErrNotExist; a password no key accepts gives
// ErrNoKeyFound. With opts.Decorate set, the backend it returns (a cache in
// front of be) serves the repository from then on.
func Open(ctx context.Context, be backend.Backend, password string, opts Options) (*Repository, error) {
	start := time.Now()
	raw, err := backend.LoadAll(ctx, be, configHandle)
	if errors.Is(err, backend.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrNotExist, err)
	} else if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	master, kid, err := SearchKey(ctx, be, password, opts.KeyHint)
	if err != nil {
		return nil, err
	}
	plain, err := master.Open(nil, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrInvalidData, err)
	}
	cfg, err := ParseConfig(plain)
	if err != nil {
		return nil, err
	}
	if opts.Decorate != nil {
		be = opts.Decorate(cfg.ID, be)
	}
	if opts.Logger != nil {
		opts.Logger.Debug("repository opened", "id", cfg.ID, "version", cfg.Version, "key", kid.Str(), "duration", time.Since(start))
	}
	return newRepository(be, master, kid, cfg, opts)
}

// LoadConfigJSON returns the decrypted config file, as stored.
func (r *Repository) LoadConfigJSON(ctx context.Context) ([]byte, error) {
	raw, err := backend.LoadAll(ctx, r.be, configHandle)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	plain, err := r.key.OpenInPlace(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrInvalidData, err)
	}
	return plain, nil
}

// LoadUnpacked loads an index, snapshot or lock file, checks that its bytes
// hash to its name, decrypts it and undoes the v2 compression. The result is
// the JSON document.
func (r *Repository) LoadUnpacked(ctx context.Context, t backend.FileType, fid id.ID) ([]byte, error) {
	h := backend.Handle{Type: t, Name: fid.String()}
	raw, err := backend.LoadAll(ctx, r.be, h)
	if err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	if id.Hash(raw) != fid {
		return nil, fmt.Errorf("%w: %v: content does not match its name", ErrInvalidData, h)
	}
	plain, err := r.key.OpenInPlace(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrInvalidData, h, err)
	}
	out, err := r.decodeUnpacked(plain)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", h, err)
	}
	return out, nil
}

// unpackedZstd is the leading byte of a compressed unpacked file.
const unpackedZstd = 2

func (r *Repository) decodeUnpacked(plain []byte) ([]byte, error) {
	if r.cfg.Version < 2 || len(plain) == 0 {
		return plain, nil
	}
	switch plain[0] {
	case unpackedZstd:
		return r.codec.decompress(nil, plain[1:])
	case '[', '{':
		return plain, nil
	}
	return nil, fmt.Errorf("%w: unsupported encoding format %d", ErrInvalidData, plain[0])
}

// SaveUnpacked encrypts (and in v2 compresses) a JSON document and stores it
// under the hash of the stored bytes, which it returns.
func (r *Repository) SaveUnpacked(ctx context.Context, t backend.FileType, doc []byte) (id.ID, error) {
	plain := doc
	if r.cfg.Version >= 2 {
		plain = r.codec.compress([]byte{unpackedZstd}, doc)
	}
	raw := r.key.Seal(nil, plain)
	fid := id.Hash(raw)
	h := backend.Handle{Type: t, Name: fid.String()}
	if t != backend.LockFile {
		if err := r.waitWriteGate(ctx); err != nil {
			return id.ID{}, err
		}
	}
	if err := r.be.Save(ctx, h, backend.NewByteReader(raw)); err != nil {
		return id.ID{}, fmt.Errorf("save %v: %w", h, err)
	}
	return fid, nil
}
