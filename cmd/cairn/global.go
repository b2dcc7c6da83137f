package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/internal/repository"
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
	Debug           bool
	// JSON selects restic's --json output: one JSON object a line on
	// stdout, and an exit_error object on stderr when the command fails.
	JSON bool
	// Verbose is restic's verbosity: 0 by default, 1 with -v, 2 with -vv
	// or --verbose=2.
	Verbose int
	// InsecureNoPassword opens (and inits) a repository with the empty
	// password, as restic 0.17+ does.
	InsecureNoPassword bool
	// PackSize is restic's global --pack-size in MiB ($RESTIC_PACK_SIZE),
	// 0 for the default. backup and prune have their own flag of the same
	// name, which takes its place there.
	PackSize uint
	// ProgressFPS is how many progress updates a second to print on a
	// terminal, from $CAIRN_PROGRESS_FPS or $RESTIC_PROGRESS_FPS; 0 when
	// unset or not a positive number (restic ignores a bad value too).
	ProgressFPS float64
	// ReadConcurrency is the default of backup --read-concurrency, from
	// $CAIRN_READ_CONCURRENCY or $RESTIC_READ_CONCURRENCY; 0 when unset
	// or not a positive number (as restic: the built-in default then).
	ReadConcurrency uint
	// TLSClientCert is a PEM file with a client certificate and its key,
	// for HTTPS backends (--tls-client-cert, $RESTIC_TLS_CLIENT_CERT).
	TLSClientCert string
	// InsecureTLS skips verifying the server's certificate.
	InsecureTLS bool
	// HTTPUserAgent replaces the User-Agent of HTTP requests.
	HTTPUserAgent string
	// StuckRequestTimeout is how long an HTTP request may wait for the
	// server's answer before it fails (and is retried).
	StuckRequestTimeout time.Duration
	// NoExtraVerify is accepted for restic's scripts; it changes nothing,
	// as cairn has no such extra check before uploads.
	NoExtraVerify bool

	stdout io.Writer
	stderr io.Writer

	logOnce sync.Once
	log     *slog.Logger // nil: debug logging off; set by logger
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
	f.StringVar(&g.CacheDir, "cache-dir", "", "local cache `directory` (default: $CAIRN_CACHE_DIR, $RESTIC_CACHE_DIR, $XDG_CACHE_HOME/restic, ~/.cache/restic: restic's)")
	f.BoolVar(&g.NoCache, "no-cache", false, "do not use a local cache")
	f.BoolVar(&g.CleanupCache, "cleanup-cache", false, "remove cache directories of repositories unused for 30 days")
	f.BoolVar(&g.NoLock, "no-lock", false, "do not lock the repository (read-only commands only; unsafe while others write)")
	f.DurationVar(&g.RetryLock, "retry-lock", 30*time.Minute, "how long to wait for a live conflicting lock to be released, e.g. 5m or 2h (0: fail at once, restic's default); stale locks are never waited for")
	f.StringArrayVarP(&g.Options, "option", "o", nil, "set a backend `option` key=value, e.g. sftp.command=..., s3.region=..., rest.connections=8 (repeatable)")
	f.Int64Var(&g.LimitUpload, "limit-upload", 0, "limit uploads to `KiB/s` (0: no limit)")
	f.Int64Var(&g.LimitDownload, "limit-download", 0, "limit downloads to `KiB/s` (0: no limit)")
	f.StringSliceVar(&g.CACerts, "cacert", nil, "`file` with a PEM certificate authority to trust for HTTPS, besides the system's (default: $CAIRN_CACERT, $RESTIC_CACERT)")
	f.BoolVar(&g.Debug, "debug", false, "write debug messages (backend operations, cache, locks) to stderr (also: $CAIRN_DEBUG_LOG=file, $DEBUG_LOG=file)")
	f.BoolVar(&g.JSON, "json", false, "set output mode to JSON for commands that support it")
	f.CountVarP(&g.Verbose, "verbose", "v", "be verbose (specify multiple times or a level using --verbose=n, max level/times is 2)")
	f.BoolVar(&g.InsecureNoPassword, "insecure-no-password", false, "use an empty password for the repository, must be passed to every command (insecure)")
	f.StringVar(&g.CacheMaxSize, "cache-max-size", "", "keep the cached tree packs under `size` (e.g. 2G), evicting the least recently used (default: unlimited)")
	f.StringVar(&g.TLSClientCert, "tls-client-cert", env("TLS_CLIENT_CERT"), "`file` with a PEM TLS client certificate and its private key (default: $CAIRN_TLS_CLIENT_CERT, $RESTIC_TLS_CLIENT_CERT)")
	f.BoolVar(&g.InsecureTLS, "insecure-tls", false, "skip TLS certificate verification when connecting to the repository (insecure)")
	f.StringVar(&g.HTTPUserAgent, "http-user-agent", env("HTTP_USER_AGENT"), "set the `User-Agent` of outgoing HTTP requests (default: $CAIRN_HTTP_USER_AGENT, $RESTIC_HTTP_USER_AGENT, cairn's)")
	f.DurationVar(&g.StuckRequestTimeout, "stuck-request-timeout", 5*time.Minute, "`duration` after which an HTTP request without an answer fails and is retried")
	f.UintVar(&g.PackSize, "pack-size", envUint("PACK_SIZE"), "target pack size in `MiB` for commands that write packs (default: $CAIRN_PACK_SIZE, $RESTIC_PACK_SIZE, 16)")
	f.BoolVar(&g.NoExtraVerify, "no-extra-verify", false, "accepted for restic compatibility; changes nothing (cairn has no extra check of data before upload to skip)")
	g.ReadConcurrency = envUint("READ_CONCURRENCY")
	if fps, err := strconv.ParseFloat(env("PROGRESS_FPS"), 64); err == nil && fps > 0 {
		g.ProgressFPS = fps
	}
}

// envUint returns the CAIRN_/RESTIC_ variable as a positive number, or 0
// when it is unset or not one.
func envUint(suffix string) uint {
	v, err := strconv.ParseUint(env(suffix), 10, 32)
	if err != nil {
		return 0
	}
	return uint(v)
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
	r, err := repoLocation(g.Repo, g.RepoFile, "REPOSITORY", "repository file")
	if err == nil && r == "" {
		err = errors.New("please specify the repository with -r/--repo or $CAIRN_REPOSITORY")
	}
	return r, err
}

// repoLocation returns a repository location: the flag, else the file the
// file flag names, else $CAIRN_<name>_FILE or $RESTIC_<name>_FILE when
// $..._<name> itself is unset, else $CAIRN_<name> or $RESTIC_<name>; ""
// when none is set. what names the file in errors.
func repoLocation(flag, flagFile, name, what string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	file := flagFile
	if file == "" && env(name) == "" {
		file = env(name + "_FILE")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", what, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return env(name), nil
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

// stdin is the buffered standard input that passwords are read from when
// it is not a terminal, shared so that a second password read (a new
// key's) gets the next line.
var stdin = sync.OnceValue(func() *bufio.Reader { return bufio.NewReader(os.Stdin) })

// promptPassword asks on the terminal without echo. When standard input is
// not a terminal it reads the first line from it, as restic does.
func promptPassword(prompt string) (string, error) {
	if !stdinIsTerminal() {
		line, err := stdin().ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// stdinIsTerminal reports whether passwords are prompted for on a
// terminal; when not, restic reads a new password once, not twice.
func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// resolvePassword is lookupPassword, falling back to a prompt, which must
// not give the empty password.
func resolvePassword(ctx context.Context, flagFile, flagCommand, envPrefix, prompt string) (string, error) {
	pw, found, err := lookupPassword(ctx, flagFile, flagCommand, envPrefix)
	if err != nil || found {
		return pw, err
	}
	if pw, err = promptPassword(prompt); err == nil && pw == "" {
		err = errEmptyPassword
	}
	return pw, err
}

// errEmptyPassword is restic's refusal of an empty password without
// --insecure-no-password.
var errEmptyPassword = errors.New("an empty password is not allowed by default. Pass the flag `--insecure-no-password` to cairn to disable this check")

// openPassword returns the password to open a repository with: the empty
// one with insecureNoPassword (then no password may be given, as in
// restic), else the first source (see lookupPassword), else a prompt; an
// empty password is refused.
func openPassword(ctx context.Context, flagFile, flagCommand, envPrefix, prompt string, insecureNoPassword bool, flag string) (string, error) {
	pw, found, err := lookupPassword(ctx, flagFile, flagCommand, envPrefix)
	if err != nil {
		return "", err
	}
	if insecureNoPassword {
		if found {
			return "", fmt.Errorf("%s must not be specified together with providing a password via a cli option or environment variable", flag)
		}
		return "", nil
	}
	if !found {
		if pw, err = promptPassword(prompt); err != nil {
			return "", err
		}
	}
	if pw == "" {
		return "", errEmptyPassword
	}
	return pw, nil
}

// password returns the password of the repository of --repo.
func (g *globalOptions) password(ctx context.Context) (string, error) {
	return openPassword(ctx, g.PasswordFile, g.PasswordCommand, "", "enter password for repository: ", g.InsecureNoPassword, "--insecure-no-password")
}

// fromRepository returns the location of the source repository of copy
// and init --copy-chunker-params: the --from-repo flag, the
// --from-repository-file flag, then $CAIRN_FROM_REPOSITORY(_FILE) and
// $RESTIC_FROM_REPOSITORY(_FILE). It is "" when none is set.
func fromRepository(flagRepo, flagFile string) (string, error) {
	if flagRepo != "" && flagFile != "" {
		return "", errors.New("--from-repo and --from-repository-file are mutually exclusive, please specify only one")
	}
	return repoLocation(flagRepo, flagFile, "FROM_REPOSITORY", "source repository file")
}

// fromPassword returns the password of the source repository: the
// --from-password-file and --from-password-command flags, then
// $CAIRN_FROM_PASSWORD(_FILE,_COMMAND) and $RESTIC_FROM_*, else a prompt;
// with insecureNoPassword (--from-insecure-no-password) the empty one.
func fromPassword(ctx context.Context, flagFile, flagCommand string, insecureNoPassword bool) (string, error) {
	return openPassword(ctx, flagFile, flagCommand, "FROM_", "enter password for source repository: ", insecureNoPassword, "--from-insecure-no-password")
}

// fromKeyHint returns the key to try first in the source repository: the
// --from-key-hint flag, else $CAIRN_FROM_KEY_HINT, $RESTIC_FROM_KEY_HINT.
func fromKeyHint(flag string) string {
	if flag != "" {
		return flag
	}
	return env("FROM_KEY_HINT")
}

// hostFilter returns the hosts a snapshot filter keeps: the --host flags,
// else $CAIRN_HOST or $RESTIC_HOST, as in restic. An empty --host ""
// clears the default: no host filter.
func hostFilter(flags []string) []string {
	if flags == nil {
		if h := env("HOST"); h != "" {
			return []string{h}
		}
		return nil
	}
	var out []string
	for _, h := range flags {
		if h != "" {
			out = append(out, h)
		}
	}
	return out
}

// backupHost returns the host name a new snapshot records: --host, else
// $CAIRN_HOST or $RESTIC_HOST, else "" (this host).
func backupHost(flag string) string {
	if flag != "" {
		return flag
	}
	return env("HOST")
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
	return repository.Options{Compression: c, KeyHint: hint, Logger: g.logger()}, nil
}

// logger returns the debug logger, or nil when debug logging is off (the
// default): --debug logs to stderr, $CAIRN_DEBUG_LOG (or restic's
// $DEBUG_LOG) names a file to append to. The file stays open until the
// process exits; each message is written at once.
func (g *globalOptions) logger() *slog.Logger {
	g.logOnce.Do(func() {
		var ws []io.Writer
		if g.Debug {
			ws = append(ws, os.Stderr)
		}
		path := os.Getenv("CAIRN_DEBUG_LOG")
		if path == "" {
			path = os.Getenv("DEBUG_LOG")
		}
		if path != "" {
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				g.warnf("debug log: %v", err)
			} else {
				ws = append(ws, f)
			}
		}
		if len(ws) == 0 {
			return
		}
		g.log = slog.New(slog.NewTextHandler(io.MultiWriter(ws...), &slog.HandlerOptions{Level: slog.LevelDebug}))
		g.log.Debug("cairn started", "version", version, "args", os.Args[1:], "pid", os.Getpid())
	})
	return g.log
}

// warnf prints a warning line on stderr.
func (g *globalOptions) warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "warning: "+format+"\n", args...)
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
