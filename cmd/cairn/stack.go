package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/backend/retry"
	"github.com/cairn-backup/cairn/internal/cache"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/ui"
)

// This file builds the backend stack of a command, in one place and in
// this order, from the bottom:
//
//	backend (local, sftp, rest, s3)
//	limiter (--limit-upload, --limit-download)
//	retry (remote backends)
//	cache (once the repository ID is known)
//	repository (key, config)
//	lock

// stackSpec says which repository openStack opens and how.
type stackSpec struct {
	// loc is the repository location.
	loc string
	// password returns the repository password.
	password func(context.Context) (string, error)
	// opts are the repository options; openStack adds the cache.
	opts repository.Options
	// mode is the lock to take.
	mode lockMode
	// label names the repository in messages ("source"); empty for the
	// repository of --repo.
	label string
	// early returns a shared lock's repository before the lock is held,
	// while it is being taken (see lock.Begin): reads may start at once,
	// writes wait for the lock and for repository.CheckIndexFiles, whose
	// ErrIndexChanged the command must answer by starting again.
	early bool
}

// openStack opens the repository spec names with the whole backend stack
// and takes the lock spec.mode asks for. The returned context is cancelled
// if the lock is lost; release removes the lock.
func (g *globalOptions) openStack(ctx context.Context, spec stackSpec) (*repository.Repository, context.Context, func(), error) {
	wrap := func(err error) error {
		if spec.label == "" {
			return err
		}
		return fmt.Errorf("open %s repository %s: %w", spec.label, location.StripPassword(spec.loc), err)
	}
	be, err := g.openBackend(ctx, spec.loc, false)
	if err != nil {
		return nil, nil, nil, wrap(err)
	}
	pw, err := spec.password(ctx)
	if err != nil {
		_ = be.Close()
		return nil, nil, nil, err
	}
	opts := spec.opts
	opts.Decorate = g.cacheDecorator()
	opts.Logger = g.logger()
	term := g.terminalOut()
	if term != nil {
		opts.IndexProgress = func(total int) *ui.Progress {
			return newCounter(term, g, total, "index files loaded")
		}
	}
	repo, err := repository.Open(ctx, be, pw, opts)
	if errors.Is(err, repository.ErrNotExist) {
		err = fmt.Errorf("%w at %s (no config file)", repository.ErrNotExist, location.StripPassword(spec.loc))
	}
	if err != nil {
		_ = be.Close()
		return nil, nil, nil, wrap(err)
	}
	if term != nil {
		fmt.Fprintf(term, "repository %s opened (%s)\n", repo.Config().ID[:min(8, len(repo.Config().ID))], openedDetails(repo.Config().Version, opts.Compression))
	}
	if spec.mode == lockNone {
		return repo, ctx, func() {}, nil
	}
	prefix := ""
	if spec.label != "" {
		prefix = spec.label + ": "
	}
	lopts := lock.Options{
		Exclusive: spec.mode == lockExclusive,
		Prune:     spec.mode == lockPrune,
		Wait:      g.RetryLock,
		Notify:    func(msg string) { fmt.Fprintln(os.Stderr, prefix+msg) },
		Logger:    g.logger(),
	}
	lockErr := func(err error) error {
		err = lockedHint(err)
		if spec.label != "" {
			err = fmt.Errorf("lock %s repository: %w", spec.label, err)
		} else if !errors.Is(err, lock.ErrLocked) {
			err = fmt.Errorf("lock repository: %w", err)
		}
		if errors.Is(err, lock.ErrLocked) {
			return withExit(exitLocked, err)
		}
		return err
	}
	if spec.early && spec.mode == lockShared {
		p, err := lock.Begin(ctx, repo, lopts)
		if err != nil {
			return nil, nil, nil, lockErr(err)
		}
		if p != nil {
			lctx, release := g.earlyLock(ctx, repo, p, lockErr)
			return repo, lctx, release, nil
		}
	}
	h, lctx, err := lock.Acquire(ctx, repo, lopts)
	if err != nil {
		return nil, nil, nil, lockErr(err)
	}
	release := func() {
		if err := h.Release(ctx); err != nil {
			g.warnf("remove lock: %v", err)
		}
	}
	g.sweepTempFiles(lctx, repo, sweepDeadLocks)
	return repo, lctx, release, nil
}

// earlyLock hands out the repository while p takes its lock: the returned
// context is cancelled with the lock's error if taking it fails, or when
// the lock is lost later; the repository's writes wait for the lock and
// then for the check that the index read meanwhile is still current.
func (g *globalOptions) earlyLock(ctx context.Context, repo *repository.Repository, p *lock.Pending, lockErr func(error) error) (context.Context, func()) {
	lctx, cancel := context.WithCancelCause(ctx)
	go func() {
		_, hctx, err := p.Wait(ctx)
		if err != nil {
			cancel(lockErr(err))
			return
		}
		context.AfterFunc(hctx, func() { cancel(context.Cause(hctx)) })
	}()
	repo.SetWriteGate(func(gctx context.Context) error {
		if _, _, err := p.Wait(gctx); err != nil {
			return lockErr(err)
		}
		return repo.CheckIndexFiles(gctx)
	})
	release := func() {
		h, _, err := p.Wait(context.WithoutCancel(ctx))
		if err == nil {
			if err := h.Release(ctx); err != nil {
				g.warnf("remove lock: %v", err)
			}
		}
		cancel(nil)
	}
	return lctx, release
}

// terminalOut is stdout when it is a terminal and neither --json nor
// --quiet is given: where restic shows what it is doing while it opens a
// repository ("repository 1a2b3c4d opened ...", the count of index files
// loaded). Otherwise it is nil.
func (g *globalOptions) terminalOut() io.Writer {
	if g.JSON || g.Quiet || !isTerminalWriter(os.Stdout) {
		return nil
	}
	return os.Stdout
}

// openedDetails is restic's "version 2, compression level auto" (version
// 1 repositories do not compress, so their line has no level).
func openedDetails(version uint, c repository.Compression) string {
	if version < 2 {
		return fmt.Sprintf("version %d", version)
	}
	return fmt.Sprintf("version %d, compression level %s", version, c)
}

// lockedHint adds to a conflicting-lock error what to do about it.
func lockedHint(err error) error {
	var le *lock.LockedError
	switch {
	case errors.Is(err, lock.ErrInvalidLock):
		return fmt.Errorf("%w; nobody can tell whose lock it is: if no other process uses the repository, `cairn unlock --remove-all` removes it", err)
	case !errors.As(err, &le):
		return err
	case le.Stale:
		return fmt.Errorf("%w; if no process on host %s uses the repository any more, remove the lock with `cairn unlock`", err, le.Lock.Hostname)
	default:
		return fmt.Errorf("%w; `cairn unlock` removes locks that are stale", err)
	}
}

// openRepository opens the configured repository with the configured
// password, without a lock.
func (g *globalOptions) openRepository(ctx context.Context) (*repository.Repository, error) {
	repo, _, _, err := g.openMain(ctx, lockNone, false)
	return repo, err
}

// openMain opens the repository of --repo with the lock mode asks for
// (see stackSpec for early).
func (g *globalOptions) openMain(ctx context.Context, mode lockMode, early bool) (*repository.Repository, context.Context, func(), error) {
	loc, err := g.repository()
	if err != nil {
		return nil, nil, nil, err
	}
	opts, err := g.repoOptions()
	if err != nil {
		return nil, nil, nil, err
	}
	return g.openStack(ctx, stackSpec{loc: loc, password: g.password, opts: opts, mode: mode, early: early})
}

// lockMode says which lock a command takes.
type lockMode uint8

const (
	lockNone lockMode = iota
	lockShared
	lockExclusive
	// lockPrune is a two-phase prune's: non-exclusive, but exclusive
	// among prunes (lock.Options.Prune).
	lockPrune
)

// openLocked opens the repository and locks it. The returned context is
// cancelled if the lock is lost; release removes the lock. --no-lock skips
// shared locks of read-only commands (mayNoLock).
func (g *globalOptions) openLocked(ctx context.Context, mode lockMode, mayNoLock bool) (*repository.Repository, context.Context, func(), error) {
	if g.NoLock && mayNoLock {
		mode = lockNone
	}
	return g.openMain(ctx, mode, false)
}

// openBackend opens (or, with create, creates) the backend location
// names, with the -o options and --cacert files: the bottom of the stack
// (backend, limiter, retry). A missing repository gets exit code 10.
func (g *globalOptions) openBackend(ctx context.Context, loc string, create bool) (backend.Backend, error) {
	ext, err := location.ParseExtended(g.Options)
	if err != nil {
		return nil, err
	}
	cacerts := g.CACerts
	if len(cacerts) == 0 {
		if v := env("CACERT"); v != "" {
			cacerts = strings.Split(v, ",")
		}
	}
	if g.LimitUpload < 0 || g.LimitDownload < 0 {
		return nil, errors.New("--limit-upload and --limit-download must not be negative")
	}
	opts := location.Options{
		Extended:      ext,
		CACerts:       cacerts,
		LimitUpload:   g.LimitUpload * 1024,
		LimitDownload: g.LimitDownload * 1024,
		Retry: retry.Options{Report: func(op string, err error, wait time.Duration) {
			g.warnf("%s failed, retrying in %v: %v", op, wait.Round(time.Millisecond), err)
		}},
		Logger:              g.logger(),
		TLSClientCert:       g.TLSClientCert,
		InsecureTLS:         g.InsecureTLS,
		UserAgent:           g.HTTPUserAgent,
		StuckRequestTimeout: g.StuckRequestTimeout,
	}
	if create {
		return location.Create(ctx, loc, opts)
	}
	be, err := location.Open(ctx, loc, opts)
	if errors.Is(err, backend.ErrNotExist) {
		return nil, withExit(exitNoRepo, err)
	}
	return be, err
}

// cacheBase returns the cache base directory from the flag or environment.
func (g *globalOptions) cacheBase() (string, error) {
	if g.CacheDir != "" {
		return g.CacheDir, nil
	}
	return cache.DefaultBase()
}

// cacheDecorator returns the repository.Options.Decorate that puts the
// local cache in front of the backend, or nil with --no-cache. Any
// problem is a warning: the command goes on without a cache.
func (g *globalOptions) cacheDecorator() func(string, backend.Backend) backend.Backend {
	if g.NoCache {
		return nil
	}
	return func(repoID string, be backend.Backend) backend.Backend {
		base, err := g.cacheBase()
		if err != nil {
			g.warnf("%v; going on without a cache", err)
			return be
		}
		var maxSize int64
		if g.CacheMaxSize != "" {
			if maxSize, err = ui.ParseSize(g.CacheMaxSize); err != nil {
				g.warnf("--cache-max-size: %v; no size bound", err)
			}
		}
		c, err := cache.Open(base, repoID, cache.Options{
			MaxSize: maxSize,
			Warn:    func(err error) { g.warnf("%v", err) },
			Logger:  g.logger(),
		})
		if err != nil {
			g.warnf("%v; going on without a cache", err)
			return be
		}
		g.checkOldCaches(base)
		return c.Wrap(be)
	}
}

// checkOldCaches reports (or, with --cleanup-cache, removes) cache
// directories of repositories unused for 30 days. --cleanup-cache also
// removes what an earlier cleanup, killed, left (cache.RemoveLeftovers).
func (g *globalOptions) checkOldCaches(base string) {
	if g.CleanupCache {
		if _, err := cache.RemoveLeftovers(base); err != nil {
			g.warnf("remove leftovers of an earlier cleanup in %s: %v", base, err)
		}
	}
	dirs, err := cache.ListDirs(base, false)
	if err != nil {
		return
	}
	var old []cache.DirInfo
	for _, d := range dirs {
		if d.Old(cache.MaxAge) {
			old = append(old, d)
		}
	}
	if len(old) == 0 {
		return
	}
	if !g.CleanupCache {
		if !g.Quiet {
			g.warnf("found %d old cache directories in %s, run `cairn cache --cleanup` to remove them", len(old), base)
		}
		return
	}
	for _, d := range old {
		if err := cache.RemoveDir(d); err != nil {
			g.warnf("remove old cache directory %s: %v", d.Path, err)
		}
	}
}
