package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Version is the cache layout version this package writes and reads.
const Version = 1

// TagName and tagSignature make backup tools skip the cache directory.
const (
	TagName      = "CACHEDIR.TAG"
	tagSignature = "Signature: 8a477f597d28d172789f06886806bc55"
)

// Defaults.
const (
	// DefaultGrace is how young an entry is kept by cleanup even when
	// this process does not know it.
	DefaultGrace = time.Hour
	// TempMaxAge is when a leftover temporary file counts as abandoned.
	TempMaxAge = time.Hour
	// MaxAge is how long an unused repository cache directory is kept.
	MaxAge = 30 * 24 * time.Hour
)

// tmpPrefix starts every temporary file name (as restic's "tmp-"), so
// that sweeps find them and lookups never take them for entries.
const tmpPrefix = "tmp-"

// Options tune a cache.
type Options struct {
	// MaxSize bounds the bytes of cached packs (0: unlimited).
	MaxSize int64
	// Grace overrides DefaultGrace.
	Grace time.Duration
	// Warn receives cache problems, one call per kind of problem; nil
	// discards them.
	Warn func(error)
	// Logger receives debug messages (entries stored, packs evicted, the
	// cache abandoned); nil discards them.
	Logger *slog.Logger
}

// Cache is one repository's directory in the cache. It is safe for
// concurrent use, also by several processes.
type Cache struct {
	Base string // the base directory
	Dir  string // Base/<repository id>

	opts Options

	warnMu sync.Mutex
	warned map[string]bool // guarded by warnMu

	disabled sync.Once
	off      chan struct{} // closed when the cache is abandoned

	sizeMu   sync.Mutex
	packSize int64 // approximate bytes of cached packs; guarded by sizeMu
	scanned  bool  // guarded by sizeMu

	verified sync.Map // file path → true once its content was checked
}

var repoIDPattern = regexp.MustCompile(`^[a-fA-F0-9]{64}$`)

// DefaultBase returns the base directory: $CAIRN_CACHE_DIR, then
// $RESTIC_CACHE_DIR (so restic and cairn share it when set), then
// $XDG_CACHE_HOME/restic, then ~/.cache/restic: restic's default, so
// that both tools share one cache without being told.
func DefaultBase() (string, error) {
	for _, v := range []string{"CAIRN_CACHE_DIR", "RESTIC_CACHE_DIR"} {
		if d := os.Getenv(v); d != "" {
			return d, nil
		}
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: %w", err)
	}
	return filepath.Join(d, "restic"), nil
}

// Open sets up the cache for repository repoID under base, atomically, and
// marks the repository directory as used now. It fails (for the caller to
// warn and go on without a cache) if the directory cannot be set up or
// holds a newer cache version.
func Open(base, repoID string, opts Options) (*Cache, error) {
	if !repoIDPattern.MatchString(repoID) {
		return nil, fmt.Errorf("cache: invalid repository id %q", repoID)
	}
	if opts.Grace == 0 {
		opts.Grace = DefaultGrace
	}
	c := &Cache{Base: base, Dir: filepath.Join(base, repoID), opts: opts, warned: map[string]bool{}, off: make(chan struct{})}
	// A cleanup elsewhere (cache --cleanup) may remove the directory in
	// the middle of the setup: then set it up again, a few times.
	var err error
	for range 5 {
		if err = c.setup(); !vanished(err) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	_ = os.Chtimes(c.Dir, now, now)
	c.debug("cache opened", "dir", c.Dir, "max_size", opts.MaxSize)
	return c, nil
}

// setup creates the base directory, its tag, the repository directory
// and its version file, and checks the version.
func (c *Cache) setup() error {
	base := c.Base
	if err := os.MkdirAll(base, 0o700); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := publish(base, filepath.Join(base, TagName), []byte(tagSignature+"\n# This file is a cache directory tag created by cairn.\n# For information about cache directory tags, see https://bford.info/cachedir/\n")); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	vfile := filepath.Join(c.Dir, "version")
	// The temporary file is written in base, which cleanups never remove,
	// so that a cleanup removing c.Dir can only get between the mkdir and
	// the link, not during the write.
	err := publish(base, vfile, []byte(strconv.Itoa(Version)))
	if errors.Is(err, syscall.EXDEV) { // c.Dir is on another file system
		err = publish(c.Dir, vfile, []byte(strconv.Itoa(Version)))
	}
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	v, err := readVersion(vfile)
	if err != nil {
		return err
	}
	if v > Version {
		return fmt.Errorf("cache: %s has version %d, newer than %d", c.Dir, v, Version)
	}
	for _, t := range []string{"data", "index", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, t), 0o700); err != nil {
			return fmt.Errorf("cache: %w", err)
		}
	}
	return nil
}

// versionWait bounds how long readVersion waits for an empty version file
// to be filled.
var versionWait = 2 * time.Second

// readVersion reads the cache version in vfile. restic creates that file
// and then writes it, so another process can find it empty for a moment:
// an empty file is read again until it has content, for up to versionWait;
// one still empty after that (its writer died between the two steps) is
// taken as this package's Version, whose layout restic's version 1 shares.
func readVersion(vfile string) (int, error) {
	deadline := time.Now().Add(versionWait)
	for {
		b, err := os.ReadFile(vfile)
		if err != nil {
			return 0, fmt.Errorf("cache: %w", err)
		}
		text := strings.TrimSpace(string(b))
		if text == "" {
			if time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			return Version, nil
		}
		v, err := strconv.Atoi(text)
		if err != nil {
			return 0, fmt.Errorf("cache: version file %s: %q is not a number", vfile, b)
		}
		return v, nil
	}
}

// publish makes path hold content unless a file is already there: the
// content goes to a temporary file in tmpDir (on the same file system)
// that is hard-linked to path, so no reader ever sees a partial file and
// an existing one is never replaced.
func publish(tmpDir, path string, content []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp, err := writeTemp(tmpDir, content)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp) }()
	for range 5 {
		err = os.Link(tmp, path)
		if err == nil || errors.Is(err, fs.ErrExist) {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		// A cleanup removed the directory since it was made: again.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
	}
	return err
}

// writeTemp writes content to a new synced temporary file in dir.
func writeTemp(dir string, content []byte) (string, error) {
	f, err := createTemp(dir)
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

func createTemp(dir string) (*os.File, error) {
	// "tmp-<host8>-<pid>-<random>": a cleanup on this host removes it at
	// once when its writer is gone (see backend.TempName).
	return os.OpenFile(filepath.Join(dir, backend.TempName("", tmpPrefix)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
}

// path returns where h lives in the cache, and whether h is a type the
// cache holds.
func (c *Cache) path(h backend.Handle) (string, bool) {
	var dir string
	switch h.Type {
	case backend.PackFile:
		dir = "data"
	case backend.IndexFile:
		dir = "index"
	case backend.SnapshotFile:
		dir = "snapshots"
	default:
		return "", false
	}
	if len(h.Name) < 2 || strings.ContainsAny(h.Name, `/\`) || strings.HasPrefix(h.Name, tmpPrefix) {
		return "", false
	}
	return filepath.Join(c.Dir, dir, h.Name[:2], h.Name), true
}

// Disabled reports whether the cache was abandoned after a problem.
func (c *Cache) Disabled() bool {
	select {
	case <-c.off:
		return true
	default:
		return false
	}
}

// abandon stops using the cache for the rest of the process, with one
// warning.
func (c *Cache) abandon(err error) {
	c.disabled.Do(func() {
		close(c.off)
		c.debug("cache abandoned", "dir", c.Dir, "error", err)
		c.warn("abandon", fmt.Errorf("cache %s unusable, going on without it: %w", c.Dir, err))
	})
}

// warn reports a problem once per kind.
func (c *Cache) warn(kind string, err error) {
	c.warnMu.Lock()
	seen := c.warned[kind]
	c.warned[kind] = true
	c.warnMu.Unlock()
	if !seen && c.opts.Warn != nil {
		c.opts.Warn(err)
	}
}

// debug logs a message if the cache has a logger.
func (c *Cache) debug(msg string, args ...any) {
	if c.opts.Logger != nil {
		c.opts.Logger.Debug(msg, args...)
	}
}
