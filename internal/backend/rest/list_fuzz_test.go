package rest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/rest"
)

// FuzzList: whatever a server sends as a listing (v1 or v2), List never
// panics and hands on only names that are one path component, with sizes
// that are not negative; the names reach the cache's file system, so a
// hostile server must not be able to point them elsewhere.
func FuzzList(f *testing.F) {
	f.Add(true, []byte(`[{"name":"aa","size":3}]`))
	f.Add(true, []byte(`[{"name":"../../etc/passwd","size":1}]`))
	f.Add(false, []byte(`["aa","bb"]`))
	f.Add(true, []byte(`[{"name":"x","size":-5}]`))
	f.Fuzz(func(t *testing.T, v2 bool, body []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				w.Header().Set("Content-Length", "1")
				return
			}
			if v2 {
				w.Header().Set("Content-Type", "application/vnd.x.restic.rest.v2")
			}
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		u, _ := url.Parse(srv.URL + "/")
		cfg := rest.Config{URL: u}
		be, err := rest.Open(context.Background(), cfg)
		if err != nil {
			return
		}
		defer be.Close()
		_ = be.List(context.Background(), backend.SnapshotFile, func(fi backend.FileInfo) error {
			if fi.Name == "" || fi.Name == "." || fi.Name == ".." || strings.ContainsAny(fi.Name, "/\\\x00") {
				t.Fatalf("List passed on the name %q", fi.Name)
			}
			if fi.Size < 0 {
				t.Fatalf("List passed on the size %d", fi.Size)
			}
			return nil
		})
	})
}
