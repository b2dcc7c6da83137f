package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/internal/browse"
	"github.com/cairn-backup/cairn/internal/diff"
	"github.com/cairn-backup/cairn/internal/dump"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/cairn-backup/cairn/internal/walker"
)

//go:embed assets
var assets embed.FS

// Options configure a [Server].
type Options struct {
	View   *browse.View
	Loader walker.Loader // blobs, for archives and diffs; safe for concurrent use
	Sizes  diff.Sizer    // blob sizes, for diffs and plots
	// Repo names the repository on every page.
	Repo string
	// Metrics, if set, answers /metrics.
	Metrics http.Handler
	// Auth, if set, is the user and password every request must give.
	Auth *Credentials
	// Warn, if set, receives errors of requests that failed on the
	// server's side.
	Warn func(error)
}

// Credentials are a user name and password for basic authentication.
type Credentials struct{ User, Password string }

// Server answers the pages. It is safe for concurrent use.
type Server struct {
	o    Options
	tmpl map[string]*template.Template
	mux  *http.ServeMux

	dirTotals boundedMap[id.ID, Totals]

	seriesMu   sync.Mutex
	pointCache map[id.ID]point
}

// maxChanges is how many changes a diff page lists.
const maxChanges = 5000

// New returns a server for o.
func New(o Options) (*Server, error) {
	s := &Server{o: o, tmpl: map[string]*template.Template{}, pointCache: map[id.ID]point{}, dirTotals: newBoundedMap[id.ID, Totals](1 << 16)}
	funcs := template.FuncMap{
		"bytes": ui.FormatBytes,
		"modClass": func(m string) string {
			switch m {
			case diff.Added:
				return "mod-add"
			case diff.Removed:
				return "mod-del"
			}
			return "mod-chg"
		},
	}
	for _, page := range []string{"snapshots", "tree", "diff", "error"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("page %s: %w", page, err)
		}
		s.tmpl[page] = t
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.snapshots)
	m.Handle("GET /static/style.css", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /snapshot/{id}/tree/{path...}", s.tree)
	m.HandleFunc("GET /snapshot/{id}/file/{path...}", s.file)
	m.HandleFunc("GET /snapshot/{id}/archive/{path...}", s.archive)
	m.HandleFunc("GET /diff", s.diff)
	if o.Metrics != nil {
		m.Handle("GET /metrics", o.Metrics)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, fmt.Errorf("%s: %w", r.URL.Path, browse.ErrNotFound))
	})
	s.mux = m
	return s, nil
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a := s.o.Auth; a != nil {
		user, pw, ok := r.BasicAuth()
		// Hashes compared in constant time, so that neither the length
		// nor the content of the password leaks through timing.
		uh, ph := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pw))
		wu, wp := sha256.Sum256([]byte(a.User)), sha256.Sum256([]byte(a.Password))
		if !ok || subtle.ConstantTimeCompare(uh[:], wu[:])&subtle.ConstantTimeCompare(ph[:], wp[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="cairn", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:")
	s.mux.ServeHTTP(w, r)
}

// errBadRequest marks a request that makes no sense.
var errBadRequest = errors.New("bad request")

// fail answers with an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, browse.ErrNotFound), errors.Is(err, snapshot.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	case r.Context().Err() != nil:
		return // the client went away
	default:
		if s.o.Warn != nil {
			s.o.Warn(fmt.Errorf("%s: %w", r.URL.Path, err))
		}
	}
	w.WriteHeader(status)
	s.render(w, "error", map[string]any{"Title": http.StatusText(status), "Page": "error", "Repo": s.o.Repo,
		"Status": fmt.Sprintf("%d %s", status, http.StatusText(status)), "Message": err.Error()})
}

func (s *Server) render(w http.ResponseWriter, page string, data map[string]any) {
	if data["Repo"] == nil {
		data["Repo"] = s.o.Repo
	}
	data["Page"] = page
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.tmpl[page].ExecuteTemplate(w, page+".html", data); err != nil && s.o.Warn != nil {
		s.o.Warn(fmt.Errorf("render %s: %w", page, err))
	}
}

// snapshotFilter reads ?host=, ?tag= and ?path=.
type snapshotFilter struct{ Host, Tag, Path string }

func (f snapshotFilter) filter() snapshot.Filter {
	var out snapshot.Filter
	if f.Host != "" {
		out.Hosts = []string{f.Host}
	}
	if f.Tag != "" {
		out.Tags = []snapshot.TagList{snapshot.ParseTagList(f.Tag)}
	}
	if f.Path != "" {
		out.Paths = []string{f.Path}
	}
	return out
}

func (s *Server) snapshots(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	all, err := s.o.View.Snapshots(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := snapshotFilter{Host: q.Get("host"), Tag: q.Get("tag"), Path: q.Get("path")}
	match := f.filter()
	hosts := map[string]bool{}
	var hostList []string
	for _, sn := range all {
		if !hosts[sn.Hostname] {
			hosts[sn.Hostname] = true
			hostList = append(hostList, sn.Hostname)
		}
	}
	// The plots' sums run over every snapshot, so that a filter shows the
	// same repository sizes; the table and plots show the selected ones.
	points, err := s.series(ctx, all)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var shown []point
	var xs []time.Time
	var size, added, files, bytes []float64
	for _, p := range points {
		if !match.Match(p.Snapshot) {
			continue
		}
		shown = append(shown, p)
		xs = append(xs, p.Time)
		size = append(size, float64(p.RepoSize))
		added = append(added, float64(p.Added))
		files = append(files, float64(p.Files))
		bytes = append(bytes, float64(p.Bytes))
	}
	s.render(w, "snapshots", map[string]any{
		"Title":     "snapshots",
		"Hosts":     hostList,
		"Filter":    f,
		"Points":    shown,
		"LastIndex": len(shown) - 1,
		"SizePlot": plot("plot-size", "Repository size and data added per snapshot", xs,
			line{Label: "repository size", Class: "a", Y: size, Bytes: true},
			line{Label: "data added", Class: "b", Y: added, Bytes: true}),
		"FilesPlot": plot("plot-files", "Files and bytes per snapshot", xs,
			line{Label: "files", Class: "a", Y: files},
			line{Label: "bytes", Class: "b", Y: bytes, Bytes: true}),
	})
}

// node finds the snapshot and node a request names.
func (s *Server) node(r *http.Request) (*snapshot.Snapshot, string, *tree.Node, error) {
	sn, err := s.o.View.Snapshot(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, "", nil, err
	}
	p := "/" + strings.Trim(r.PathValue("path"), "/")
	for _, c := range strings.Split(p, "/") {
		if c == "." || c == ".." {
			return nil, "", nil, fmt.Errorf("%s: %w", p, browse.ErrNotFound)
		}
	}
	n, err := s.o.View.Find(r.Context(), sn, p)
	if err != nil {
		return nil, "", nil, err
	}
	return sn, p, n, nil
}

// entry is one row of a tree page.
type entry struct {
	Node  *tree.Node
	Path  string
	Size  uint64
	Sized bool
}

func (s *Server) tree(w http.ResponseWriter, r *http.Request) {
	sn, dir, n, err := s.node(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n.Type != tree.TypeDir {
		http.Redirect(w, r, "/snapshot/"+sn.ID.String()+"/file"+dir, http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	var entries []entry
	var total Totals
	if n.Subtree != nil {
		tr, err := s.o.View.Tree(ctx, *n.Subtree)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if total, err = s.totals(ctx, *n.Subtree); err != nil {
			s.fail(w, r, err)
			return
		}
		for _, c := range tr.Nodes {
			e := entry{Node: c, Path: path.Join(dir, c.Name)}
			switch {
			case c.Type == tree.TypeFile:
				e.Size, e.Sized = c.Size, true
			case c.Type == tree.TypeDir && c.Subtree != nil:
				t, err := s.totals(ctx, *c.Subtree)
				if err != nil {
					s.fail(w, r, err)
					return
				}
				e.Size, e.Sized = t.Bytes, true
			}
			entries = append(entries, e)
		}
	}
	type crumb struct{ Name, Path string }
	var crumbs []crumb
	p := ""
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		if c != "" {
			p += "/" + c
			crumbs = append(crumbs, crumb{c, p})
		}
	}
	s.render(w, "tree", map[string]any{"Title": sn.ID.Str() + ":" + dir, "Snapshot": sn, "Dir": strings.TrimSuffix(dir, "/") + "/",
		"Crumbs": crumbs, "Entries": entries, "Totals": total})
}

// attachment sets the headers of a download called name.
func attachment(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
}

func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	_, p, n, err := s.node(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n.Type != tree.TypeFile {
		s.fail(w, r, fmt.Errorf("%s is a %s, not a file: %w", p, n.Type, browse.ErrNotFound))
		return
	}
	f, err := s.o.View.Open(n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	attachment(w, n.Name)
	http.ServeContent(w, r, "", n.ModTime, &fileReader{ctx: r.Context(), f: f})
}

// fileReader is an io.ReadSeeker over a browse.File, for ServeContent.
type fileReader struct {
	ctx context.Context
	f   *browse.File
	off int64
}

func (r *fileReader) Read(p []byte) (int, error) {
	n, err := r.f.ReadAt(r.ctx, p, r.off)
	r.off += int64(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

func (r *fileReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.f.Size()
	default:
		return 0, errors.New("bad whence")
	}
	if off < 0 {
		return 0, errors.New("negative position")
	}
	r.off = off
	return off, nil
}

func (s *Server) archive(w http.ResponseWriter, r *http.Request) {
	sn, p, n, err := s.node(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n.Type != tree.TypeDir || n.Subtree == nil {
		s.fail(w, r, fmt.Errorf("%s is not a directory: %w", p, browse.ErrNotFound))
		return
	}
	name := path.Base(p)
	if p == "/" {
		name = sn.ID.Str()
	}
	var a dump.Archive
	switch format := r.URL.Query().Get("format"); format {
	case "tar", "":
		w.Header().Set("Content-Type", "application/x-tar")
		attachment(w, name+".tar")
		a = dump.NewTar(w, s.o.Loader)
	case "zip":
		w.Header().Set("Content-Type", "application/zip")
		attachment(w, name+".zip")
		a = dump.NewZip(w, s.o.Loader)
	default:
		s.fail(w, r, fmt.Errorf("format %q: use tar or zip: %w", format, errBadRequest))
		return
	}
	err = dump.Tree(r.Context(), s.o.Loader, a, p, *n.Subtree)
	if err == nil {
		err = a.Close()
	}
	if err != nil {
		// The status is sent: cut the connection, so that the client
		// sees a broken download rather than a short archive.
		if s.o.Warn != nil && r.Context().Err() == nil {
			s.o.Warn(fmt.Errorf("archive %s:%s: %w", sn.ID.Str(), p, err))
		}
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) diff(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if q.Get("a") == "" || q.Get("b") == "" {
		s.fail(w, r, fmt.Errorf("diff needs two snapshots, ?a=ID&b=ID: %w", errBadRequest))
		return
	}
	a, err := s.o.View.Snapshot(ctx, q.Get("a"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := s.o.View.Snapshot(ctx, q.Get("b"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if a.Tree == nil || b.Tree == nil {
		s.fail(w, r, fmt.Errorf("a snapshot without tree: %w", browse.ErrNotFound))
		return
	}
	var changes []diff.Change
	truncated := false
	stats, err := diff.Trees(ctx, s.o.Loader, s.o.Sizes, *a.Tree, *b.Tree, diff.Options{}, func(c diff.Change) error {
		if len(changes) < maxChanges {
			changes = append(changes, c)
		} else {
			truncated = true
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, "diff", map[string]any{"Title": "diff " + a.ID.Str() + " " + b.ID.Str(), "A": a, "B": b,
		"Stats": stats, "Changes": changes, "Truncated": truncated})
}

// boundedMap is a map that forgets everything when it grows past its
// bound: a cache whose memory the bound limits.
type boundedMap[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	m   map[K]V
}

func newBoundedMap[K comparable, V any](max int) boundedMap[K, V] {
	return boundedMap[K, V]{max: max, m: map[K]V{}}
}

func (b *boundedMap[K, V]) get(k K) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[k]
	return v, ok
}

func (b *boundedMap[K, V]) add(k K, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.m) >= b.max {
		clear(b.m)
	}
	b.m[k] = v
}
