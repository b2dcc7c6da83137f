// Package sftp stores a repository on a server reachable over SSH, using
// the SFTP protocol, in restic's layout: config, keys/, locks/,
// snapshots/, index/ and data/xx/.
//
// By default it connects with golang.org/x/crypto/ssh, authenticating with
// ssh-agent keys or key files and checking the host key against
// known_hosts. With Config.Command it runs that command (typically
// "ssh ... -s sftp") and speaks SFTP over its stdin and stdout instead.
//
// All operations share one SFTP session. When the session is lost, the
// failing call returns a transient error and the next call connects again;
// retrying is left to the caller.
package sftp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Backend is a repository directory on an SFTP server. It is safe for
// concurrent use; at most Properties().Connections operations run at once.
type Backend struct {
	cfg   Config
	where string // the location, for messages
	dir   string // the repository directory on the server
	conns int
	slots backend.Slots

	mu     sync.Mutex // held while connecting, so that only one call does
	cur    *session   // guarded by mu; nil when not connected
	closed bool       // guarded by mu
	// atomicReplace is whether the first session offered posix-rename;
	// set before Open or Create returns.
	atomicReplace bool

	orphanMu sync.Mutex
	orphans  []string // temporary files a lost session left; guarded by orphanMu
}

// addOrphan notes a temporary file that could not be removed because the
// session was lost.
func (b *Backend) addOrphan(path string) {
	b.orphanMu.Lock()
	defer b.orphanMu.Unlock()
	b.orphans = append(b.orphans, path)
}

// removeOrphans removes, on a fresh session s, the temporary files earlier
// sessions left behind. It is best effort: what fails stays for the next
// session.
func (b *Backend) removeOrphans(s *session) {
	b.orphanMu.Lock()
	paths := b.orphans
	b.orphans = nil
	b.orphanMu.Unlock()
	var left []string
	for _, p := range paths {
		if err := s.pick().Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		b.orphanMu.Lock()
		b.orphans = append(b.orphans, left...)
		b.orphanMu.Unlock()
	}
}

var _ backend.Backend = (*Backend)(nil)

// errClosed is returned by calls after Close.
var errClosed = backend.Permanent(errors.New("sftp: backend is closed"))

// Open connects to the server and returns a backend for the existing
// repository cfg names. A missing repository (no config file) yields an
// error matching backend.ErrNotExist.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := backend.CheckRepository(ctx, b, b.where); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// Create connects to the server and makes the directory tree of a new
// repository, including the 256 data/xx directories. It fails with a
// Permanent error if a config file exists.
func Create(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := b.create(ctx); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("create repository %s: %w", b.where, err)
	}
	return b, nil
}

// connect returns a backend with a live session.
func connect(ctx context.Context, cfg Config) (*Backend, error) {
	conns := cfg.Connections
	if conns <= 0 {
		conns = DefaultConnections
	}
	b := &Backend{
		cfg:   cfg,
		where: cfg.String(),
		dir:   path.Clean(cfg.Path),
		conns: conns,
		slots: backend.NewSlots(conns),
	}
	s, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	b.atomicReplace = s.posixRename
	return b, nil
}

func (b *Backend) create(ctx context.Context) error {
	_, err := b.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
	switch {
	case err == nil:
		return backend.Permanent(errors.New("config file already exists"))
	case !errors.Is(err, backend.ErrNotExist):
		return err
	}
	s, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer b.release()
	if err := s.pick().MkdirAll(b.dir); err != nil {
		return b.fail(s, classify("mkdir "+b.dir, err))
	}
	dirs := []string{}
	for _, t := range []backend.FileType{backend.KeyFile, backend.LockFile, backend.SnapshotFile, backend.IndexFile, backend.PackFile} {
		dirs = append(dirs, path.Join(b.dir, t.String()))
	}
	if err := b.mkdirs(ctx, s, dirs); err != nil {
		return err
	}
	dirs = dirs[:0]
	for i := range 256 {
		dirs = append(dirs, path.Join(b.dir, backend.PackFile.String(), fmt.Sprintf("%02x", i)))
	}
	return b.mkdirs(ctx, s, dirs)
}

// mkdirs creates dirs (mode 0700) with many requests in flight; an
// existing directory is fine.
func (b *Backend) mkdirs(ctx context.Context, s *session, dirs []string) error {
	wg, ctx := errgroup.WithContext(ctx)
	wg.SetLimit(32)
	for _, d := range dirs {
		wg.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.pick().Mkdir(d); err != nil {
				if fi, serr := s.pick().Stat(d); serr == nil && fi.IsDir() {
					return nil
				}
				return b.fail(s, classify("mkdir "+d, err))
			}
			return b.fail(s, classify("chmod "+d, s.pick().Chmod(d, 0o700)))
		})
	}
	return wg.Wait()
}

// Properties implements backend.Backend. Save replaces atomically when the
// server offers posix-rename@openssh.com (OpenSSH does).
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: b.conns, HasAtomicReplace: b.atomicReplace}
}

// Close implements backend.Backend: it ends the session (killing an ssh
// command). Calls after Close fail.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.cur == nil {
		return nil
	}
	err := b.cur.close()
	b.cur = nil
	return err
}

// session returns the live session, connecting if there is none or it
// has died. Only one caller connects at a time; the others wait for it.
func (b *Backend) session(ctx context.Context) (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	if b.cur != nil && !b.cur.isDead() {
		return b.cur, nil
	}
	if b.cur != nil {
		_ = b.cur.close()
		b.cur = nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		s   *session
		err error
	)
	cfg, ids := withSSHConfig(b.cfg)
	if cfg.Command != "" {
		s, err = startCommand(ctx, cfg)
	} else {
		s, err = dialSSH(ctx, cfg, ids)
	}
	if err != nil {
		return nil, err
	}
	b.cur = s
	b.removeOrphans(s)
	return s, nil
}

// fail looks at err from a request on s: if s is gone, it is dropped so
// that the next call connects again, and err says why s ended (an ssh
// command's exit status). Permanent errors never mean a lost session.
func (b *Backend) fail(s *session, err error) error {
	if err == nil || backend.IsPermanent(err) || (!lostConnection(err) && !s.isDead()) {
		return err
	}
	b.mu.Lock()
	if b.cur == s {
		b.cur = nil
	}
	b.mu.Unlock()
	var why error
	if s.cause != nil {
		why = s.cause() // before close, which would kill a command
	}
	_ = s.close()
	if why != nil {
		return fmt.Errorf("%w (%v)", err, why)
	}
	return err
}

// acquire takes an operation slot and returns the session to use;
// release gives the slot back.
func (b *Backend) acquire(ctx context.Context) (*session, error) {
	if err := b.slots.Acquire(ctx); err != nil {
		return nil, err
	}
	s, err := b.session(ctx)
	if err != nil {
		b.release()
		return nil, err
	}
	return s, nil
}

func (b *Backend) release() { b.slots.Release() }

// checkName rejects handles whose name could escape their directory.
func checkName(h backend.Handle) error {
	switch h.Type {
	case backend.ConfigFile:
		return nil
	case backend.KeyFile, backend.LockFile, backend.SnapshotFile, backend.IndexFile, backend.PackFile:
	default:
		return backend.Permanent(fmt.Errorf("invalid file type %v", h.Type))
	}
	if h.Name == "" || strings.ContainsAny(h.Name, `/\`) || h.Name == "." || h.Name == ".." {
		return backend.Permanent(fmt.Errorf("invalid file name %q for %v", h.Name, h.Type))
	}
	return nil
}

// dirname returns the directory holding h: data/xx for packs.
func (b *Backend) dirname(h backend.Handle) string {
	switch {
	case h.Type == backend.ConfigFile:
		return b.dir
	case h.Type == backend.PackFile && len(h.Name) >= 2:
		return path.Join(b.dir, h.Type.String(), h.Name[:2])
	}
	return path.Join(b.dir, h.Type.String())
}

// filename returns the path of h on the server.
func (b *Backend) filename(h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return path.Join(b.dir, "config")
	}
	return path.Join(b.dirname(h), h.Name)
}
