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
	f.StringVar(&g.CacheDir, "cache-dir", "", "local cache `directory` (default: $CAIRN_CACHE_DIR, $RESTIC_CACHE_DIR, ~/.cache/cairn)")
	f.BoolVar(&g.NoCache, "no-cache", false, "do not use a local cache")
	f.BoolVar(&g.CleanupCache, "cleanup-cache", false, "remove cache directories of repositories unused for 30 days")
	f.BoolVar(&g.NoLock, "no-lock", false, "do not lock the repository (read-only commands only; unsafe while others write)")
	f.DurationVar(&g.RetryLock, "retry-lock", 30*time.Minute, "how long to wait for conflicting locks to go away before giving up (0: fail at once)")
	f.StringArrayVarP(&g.Options, "option", "o", nil, "set a backend `option` key=value, e.g. sftp.command=..., s3.region=..., rest.connections=8 (repeatable)")
	f.Int64Var(&g.LimitUpload, "limit-upload", 0, "limit uploads to `KiB/s` (0: no limit)")
	f.Int64Var(&g.LimitDownload, "limit-download", 0, "limit downloads to `KiB/s` (0: no limit)")
	f.StringSliceVar(&g.CACerts, "cacert", nil, "`file` with a PEM certificate authority to trust for HTTPS, besides the system's (default: $CAIRN_CACERT, $RESTIC_CACERT)")
	f.BoolVar(&g.Debug, "debug", false, "write debug messages (backend operations, cache, locks) to stderr (also: $CAIRN_DEBUG_LOG=file, $DEBUG_LOG=file)")
	f.BoolVar(&g.JSON, "json", false, "set output mode to JSON for commands that support it")
	f.CountVarP(&g.Verbose, "verbose", "v", "be verbose (specify multiple times or a level using --verbose=n, max level/times is 2)")
	f.BoolVar(&g.InsecureNoPassword, "insecure-no-password", false, "use an empty password for the repository, must be passed to every command (insecure)")
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

// promptPassword asks on the terminal without echo. Without a terminal it
// reads the first line of standard input, as restic does, so that a script
// can pipe the password in; an empty standard input gives "".
func promptPassword(prompt string) (string, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from standard input: %w", err)
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

// errEmptyPassword is restic's refusal of an empty password given without
// --insecure-no-password.
var errEmptyPassword = errors.New("an empty password is not allowed by default. Pass the flag `--insecure-no-password` to cairn to disable this check")

// resolvePassword is lookupPassword, falling back to a prompt (or standard
// input). With insecure (--insecure-no-password and its --from-/--new-
// variants) the password is "" without asking, and giving a password as
// well is an error; without it an empty password is refused.
func resolvePassword(ctx context.Context, flagFile, flagCommand, envPrefix, prompt string, insecure ...bool) (string, error) {
	pw, found, err := lookupPassword(ctx, flagFile, flagCommand, envPrefix)
	if err != nil {
		return "", err
	}
	if len(insecure) > 0 && insecure[0] {
		if found && pw != "" {
			return "", errors.New("--insecure-no-password must not be specified together with providing a password via a cli option or environment variable")
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

func (g *globalOptions) password(ctx context.Context) (string, error) {
	return resolvePassword(ctx, g.PasswordFile, g.PasswordCommand, "", "enter password for repository: ", g.InsecureNoPassword)
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
