package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/backend/retry"
	"github.com/cairn-backup/cairn/internal/cache"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	Repo            string
	RepoFile        string
	PasswordFile    string
	PasswordCommand string
	KeyHint         string
	Compression     string
	Quiet           bool
	CacheDir        string
	NoCache         bool
	CleanupCache    bool
	CacheMaxSize    string
	NoLock          bool
	RetryLock       time.Duration
	Options         []string
	CACerts         []string
	LimitUpload     int64
	LimitDownload   int64

	stdout io.Writer
	stderr io.Writer
}

func (g *globalOptions) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&g.Repo, "repo", "r", "", "`repository` to use (default: $CAIRN_REPOSITORY, $RESTIC_REPOSITORY)")
	f.StringVar(&g.RepoFile, "repository-file", "", "`file` to read the repository location from")
	f.StringVarP(&g.PasswordFile, "password-file", "p", "", "`file` to read the repository password from")
	f.StringVar(&g.PasswordCommand, "password-command", "", "shell `command` that prints the repository password")
	f.StringVar(&g.KeyHint, "key-hint", "", "`key` ID to try first")
	f.StringVar(&g.Compression, "compression", "", "compression `mode` for data blobs: auto, off, fastest, better, max (default: $CAIRN_COMPRESSION, $RESTIC_COMPRESSION, auto)")
	f.BoolVarP(&g.Quiet, "quiet", "q", false, "print less")
	f.StringVar(&g.CacheDir, "cache-dir", "", "local cache `directory` (default: $CAIRN_CACHE_DIR, $RESTIC_CACHE_DIR, ~/.cache/cairn)")
	f.BoolVar(&g.NoCache, "no-cache", false, "do not use a local cache")
	f.BoolVar(&g.CleanupCache, "cleanup-cache", false, "remove cache directories of repositories unused for 30 days")
	f.BoolVar(&g.NoLock, "no-lock", false, "do not lock the repository (read-only commands only; unsafe while others write)")
	f.DurationVar(&g.RetryLock, "retry-lock", 30*time.Minute, "how long to wait for conflicting locks to go away before giving up (0: fail at once)")
	f.StringArrayVarP(&g.Options, "option", "o", nil, "set a backend `option` key=value, e.g. sftp.command=..., s3.region=..., rest.connections=8 (repeatable)")
	f.Int64Var(&g.LimitUpload, "limit-upload", 0, "limit uploads to `KiB/s` (0: no limit)")
	f.Int64Var(&g.LimitDownload, "limit-download", 0, "limit downloads to `KiB/s` (0: no limit)")
	f.StringSliceVar(&g.CACerts, "cacert", nil, "`file` with a PEM certificate authority to trust for HTTPS, besides the system's (default: $CAIRN_CACERT, $RESTIC_CACERT)")
	f.StringVar(&g.CacheMaxSize, "cache-max-size", "", "keep the cached tree packs under `size` (e.g. 2G), evicting the least recently used (default: unlimited)")
}

// env returns the first non-empty of the CAIRN_ and RESTIC_ variables named
// by suffix.
func env(suffix string) string {
	if v := os.Getenv("CAIRN_" + suffix); v != "" {
		return v
	}
	return os.Getenv("RESTIC_" + suffix)
}

// repository returns the repository location: flag, then environment.
func (g *globalOptions) repository() (string, error) {
	if g.Repo != "" {
		return g.Repo, nil
	}
	file := g.RepoFile
	if file == "" && env("REPOSITORY") == "" {
		file = env("REPOSITORY_FILE")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read repository file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if r := env("REPOSITORY"); r != "" {
		return r, nil
	}
	return "", errors.New("please specify the repository with -r/--repo or $CAIRN_REPOSITORY")
}

// passwordSource is where a password comes from, in precedence order.
type passwordSource struct {
	value, file, command string
}

// lookupPassword reads a password from the first configured source: the
// flags, then CAIRN_<prefix>PASSWORD(_FILE,_COMMAND), then RESTIC_*. found is
// false when no source is set.
func lookupPassword(ctx context.Context, flagFile, flagCommand, envPrefix string) (pw string, found bool, err error) {
	sources := []passwordSource{{file: flagFile, command: flagCommand}}
	for _, p := range []string{"CAIRN_", "RESTIC_"} {
		sources = append(sources, passwordSource{
			value:   os.Getenv(p + envPrefix + "PASSWORD"),
			file:    os.Getenv(p + envPrefix + "PASSWORD_FILE"),
			command: os.Getenv(p + envPrefix + "PASSWORD_COMMAND"),
		})
	}
	for _, s := range sources {
		switch {
		case s.file != "" && s.command != "":
			return "", true, errors.New("a password file and a password command cannot both be given")
		case s.file != "":
			b, err := os.ReadFile(s.file)
			if err != nil {
				return "", true, fmt.Errorf("read password file: %w", err)
			}
			return strings.TrimSpace(string(b)), true, nil
		case s.command != "":
			cmd := exec.CommandContext(ctx, "sh", "-c", s.command)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				return "", true, fmt.Errorf("password command: %w", err)
			}
			return strings.TrimSpace(string(out)), true, nil
		case s.value != "":
			return s.value, true, nil
		}
	}
	return "", false, nil
}

// promptPassword asks on the terminal without echo; without a terminal it
// fails with a hint at the non-interactive options.
func promptPassword(prompt string) (string, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", errors.New("no password given: use --password-file, --password-command or $CAIRN_PASSWORD")
	}
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// resolvePassword is lookupPassword, falling back to a prompt.
func resolvePassword(ctx context.Context, flagFile, flagCommand, envPrefix, prompt string) (string, error) {
	pw, found, err := lookupPassword(ctx, flagFile, flagCommand, envPrefix)
	if err != nil || found {
		return pw, err
	}
	return promptPassword(prompt)
}

func (g *globalOptions) password(ctx context.Context) (string, error) {
	return resolvePassword(ctx, g.PasswordFile, g.PasswordCommand, "", "enter password for repository: ")
}

// openBackend opens (or, with create, creates) the backend location
// names, with the -o options and --cacert files. A missing repository
// gets exit code 10.
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

func (g *globalOptions) repoOptions() (repository.Options, error) {
	mode := g.Compression
	if mode == "" {
		mode = env("COMPRESSION")
	}
	c, err := repository.ParseCompression(mode)
	if err != nil {
		return repository.Options{}, err
	}
	hint := g.KeyHint
	if hint == "" {
		hint = env("KEY_HINT")
	}
	return repository.Options{Compression: c, KeyHint: hint}, nil
}

// openRepository opens the configured repository with the configured
// password.
func (g *globalOptions) openRepository(ctx context.Context) (*repository.Repository, error) {
	loc, err := g.repository()
	if err != nil {
		return nil, err
	}
	opts, err := g.repoOptions()
	if err != nil {
		return nil, err
	}
	be, err := g.openBackend(ctx, loc, false)
	if err != nil {
		return nil, err
	}
	pw, err := g.password(ctx)
	if err != nil {
		return nil, err
	}
	repo, err := repository.Open(ctx, be, pw, opts)
	if errors.Is(err, repository.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s (no config file)", repository.ErrNotExist, location.StripPassword(loc))
	}
	if err != nil {
		return nil, err
	}
	g.useCache(repo)
	return repo, nil
}

// lockMode says which lock a command takes.
type lockMode uint8

const (
	lockNone lockMode = iota
	lockShared
	lockExclusive
)

// openLocked opens the repository and locks it. The returned context is
// cancelled if the lock is lost; release removes the lock. --no-lock skips
// shared locks of read-only commands (mayNoLock).
func (g *globalOptions) openLocked(ctx context.Context, mode lockMode, mayNoLock bool) (*repository.Repository, context.Context, func(), error) {
	repo, err := g.openRepository(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if mode == lockNone || (g.NoLock && mayNoLock) {
		return repo, ctx, func() {}, nil
	}
	h, lctx, err := lock.Acquire(ctx, repo, lock.Options{
		Exclusive: mode == lockExclusive,
		Wait:      g.RetryLock,
		Notify:    func(msg string) { fmt.Fprintln(os.Stderr, msg) },
	})
	if err != nil {
		if errors.Is(err, lock.ErrLocked) {
			return nil, nil, nil, withExit(exitLocked, err)
		}
		return nil, nil, nil, fmt.Errorf("lock repository: %w", err)
	}
	release := func() {
		if err := h.Release(ctx); err != nil {
			g.warnf("remove lock: %v", err)
		}
	}
	return repo, lctx, release, nil
}

// warnf prints a warning line on stderr.
func (g *globalOptions) warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "warning: "+format+"\n", args...)
}

// cacheBase returns the cache base directory from the flag or environment.
func (g *globalOptions) cacheBase() (string, error) {
	if g.CacheDir != "" {
		return g.CacheDir, nil
	}
	return cache.DefaultBase()
}

// useCache puts the local cache in front of the repository's backend.
// Any problem is a warning: the command goes on without a cache.
func (g *globalOptions) useCache(repo *repository.Repository) {
	if g.NoCache {
		return
	}
	base, err := g.cacheBase()
	if err != nil {
		g.warnf("%v; going on without a cache", err)
		return
	}
	var maxSize int64
	if g.CacheMaxSize != "" {
		if maxSize, err = ui.ParseSize(g.CacheMaxSize); err != nil {
			g.warnf("--cache-max-size: %v; no size bound", err)
		}
	}
	c, err := cache.Open(base, repo.Config().ID, cache.Options{
		MaxSize: maxSize,
		Warn:    func(err error) { g.warnf("%v", err) },
	})
	if err != nil {
		g.warnf("%v; going on without a cache", err)
		return
	}
	repo.WrapBackend(func(be backend.Backend) backend.Backend { return c.Wrap(be) })
	g.checkOldCaches(base)
}

// checkOldCaches reports (or, with --cleanup-cache, removes) cache
// directories of repositories unused for 30 days.
func (g *globalOptions) checkOldCaches(base string) {
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

// keyParams returns the scrypt parameters for new keys: calibrated, unless
// $CAIRN_KDF_PARAMS ("N,r,p") fixes them. That variable exists for tests,
// where weak keys make each process start cheap; it weakens the key.
func keyParams() (*repository.KeyParams, error) {
	v := os.Getenv("CAIRN_KDF_PARAMS")
	if v == "" {
		return &repository.KeyParams{}, nil
	}
	var n, r, p int
	if _, err := fmt.Sscanf(v, "%d,%d,%d", &n, &r, &p); err != nil {
		return nil, fmt.Errorf("CAIRN_KDF_PARAMS=%q: want N,r,p: %w", v, err)
	}
	return repository.FixedKeyParams(n, r, p)
}

// currentUser returns the user name and host name recorded in new keys.
func currentUser() (string, string) {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name, host
}
