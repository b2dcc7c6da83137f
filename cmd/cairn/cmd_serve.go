package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/browse"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/serve"
	"github.com/spf13/cobra"
)

type serveOptions struct {
	filter snapshotFilterFlags
	Listen string
	Auth   string
}

func newServeCommand(g *globalOptions) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Browse the repository in a web browser",
		Long: `Serve a read-only web page of the repository: its snapshots (filtered by
host, tag and path) with plots of the repository size, the data each
snapshot added and the files and bytes of each; a browser of each
snapshot's directories with sizes; downloads of a file, or of a directory
as tar or zip; the changes between two snapshots; and Prometheus metrics
at /metrics. It runs beside backups and prunes with a shared lock, as
mount does, and shows new snapshots as they are made.

The page listens on loopback (127.0.0.1:8000) unless --listen says
otherwise; any other address needs --auth USER:PASSWORDFILE, the user
name and a file holding the password that every request must give (HTTP
basic authentication; put a TLS proxy in front of it on an untrusted
network).` + exitStatusRepo,
		Example: `  cairn serve
  cairn serve --listen 127.0.0.1:9000 --host web1
  cairn serve --listen 0.0.0.0:8000 --auth admin:/etc/cairn/web-password`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd, g, o)
		},
	}
	o.filter.add(cmd)
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8000", "`address` to listen on (host:port; port 0 picks a free one)")
	cmd.Flags().StringVar(&o.Auth, "auth", "", "require basic authentication as `user:passwordfile` (needed off loopback)")
	return cmd
}

// loopback reports whether the listen address host:port is on loopback
// only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readAuth reads --auth user:passwordfile.
func readAuth(s string) (*serve.Credentials, error) {
	user, file, ok := strings.Cut(s, ":")
	if !ok || user == "" || file == "" {
		return nil, fmt.Errorf("--auth %q: want user:passwordfile", s)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--auth: read password file: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return nil, fmt.Errorf("--auth: password file %s is empty", file)
	}
	return &serve.Credentials{User: user, Password: pw}, nil
}

// blobSizes gives the sizes of the repository's current index.
type blobSizes struct{ repo *repository.Repository }

func (b blobSizes) Size(h blob.Handle) (uint32, bool) { return b.repo.BlobSize(h) }

func runServe(cmd *cobra.Command, g *globalOptions, o serveOptions) error {
	var auth *serve.Credentials
	if o.Auth != "" {
		a, err := readAuth(o.Auth)
		if err != nil {
			return err
		}
		auth = a
	} else if !loopback(o.Listen) {
		return fmt.Errorf("--listen %s is not a loopback address: it needs --auth user:passwordfile", o.Listen)
	}
	repo, ctx, release, err := g.openLocked(cmd.Context(), lockShared, true)
	if err != nil {
		return err
	}
	defer release()
	if _, err := repo.LoadIndex(ctx); err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	warn := func(err error) { fmt.Fprintf(stderr, "warning: %v\n", err) }
	view, err := browse.New(repo, browse.Options{
		Filter:  o.filter.filter(),
		Refresh: 2 * time.Second,
		Reload:  func(ctx context.Context) error { _, err := repo.LoadIndex(ctx); return err },
		Warn:    warn,
	})
	if err != nil {
		return err
	}
	loc, _ := g.repository()
	srv, err := serve.New(serve.Options{
		View:    view,
		Loader:  repo,
		Sizes:   blobSizes{repo},
		Repo:    location.StripPassword(loc),
		Metrics: g.metricsHandler(repo, view),
		Auth:    auth,
		Warn:    warn,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	fmt.Fprintf(cmd.OutOrStdout(), "serving the repository at http://%s/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if cmd.Context().Err() == nil {
		return fmt.Errorf("serve: %w", context.Cause(ctx)) // the lock was lost
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
