package gs_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/gs"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// startServer starts fake-gcs-server and points the client at it, with
// every source of credentials cleared.
func startServer(t *testing.T) *testservers.GCS {
	t.Helper()
	g := testservers.FakeGCS(t)
	clearCredentials(t)
	t.Setenv("STORAGE_EMULATOR_HOST", g.Host)
	t.Setenv("GOOGLE_PROJECT_ID", "cairn-test")
	return g
}

// clearCredentials hides every credential the environment might hold.
func clearCredentials(t *testing.T) {
	t.Helper()
	for _, name := range []string{"GOOGLE_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_PROJECT_ID", "STORAGE_EMULATOR_HOST"} {
		t.Setenv(name, "")
	}
	t.Setenv("HOME", t.TempDir()) // no gcloud credentials file
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
}

var bucketCount atomic.Int64

// newBucket returns a fresh bucket name.
func newBucket() string {
	return fmt.Sprintf("cairn-test-%d", bucketCount.Add(1))
}

func config(t testing.TB, loc string) gs.Config {
	t.Helper()
	cfg, err := gs.ParseConfig(loc)
	if err != nil {
		t.Fatalf("ParseConfig(%q) = %v, want nil", loc, err)
	}
	return cfg
}

func create(t testing.TB, cfg gs.Config) *gs.Backend {
	t.Helper()
	be, err := gs.Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Create(%v) = %v, want nil", cfg, err)
	}
	return be
}

func hashName(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func save(t testing.TB, be backend.Backend, h backend.Handle, data []byte) {
	t.Helper()
	if err := be.Save(t.Context(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save(%v) = %v, want nil", h, err)
	}
}

func TestBackend(t *testing.T) {
	startServer(t)
	t.Run("bucket", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return create(t, config(t, "gs:"+newBucket()+":/"))
		})
	})
	t.Run("prefix", func(t *testing.T) {
		bucket := newBucket()
		var n atomic.Int64
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return create(t, config(t, fmt.Sprintf("gs:%s:/repos/r%d", bucket, n.Add(1))))
		})
	})
}

// objects lists the objects of a bucket through the JSON API, sorted.
func objects(t *testing.T, g *testservers.GCS, bucket string) []string {
	t.Helper()
	var got []string
	// Listing the whole bucket is not part of the Backend interface, and
	// the server's disk layout is its own: ask the API.
	resp, err := http.Get(g.Endpoint + "/storage/v1/b/" + bucket + "/o?fields=items(name)")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	for _, part := range strings.Split(buf.String(), `"name":`)[1:] {
		name, _, _ := strings.Cut(strings.TrimSpace(part)[1:], `"`)
		got = append(got, name)
	}
	sort.Strings(got)
	return got
}

// TestLayout checks the object names, with and without a path, and that
// objects out of place are not listed.
func TestLayout(t *testing.T) {
	g := startServer(t)
	pack := []byte("pack contents")
	key := []byte("key contents")
	packName, keyName := hashName(pack), hashName(key)
	for _, prefix := range []string{"", "some/prefix"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			bucket := newBucket()
			be := create(t, config(t, "gs:"+bucket+":/"+prefix))
			defer func() { _ = be.Close() }()
			save(t, be, backend.Handle{Type: backend.ConfigFile}, []byte("config"))
			save(t, be, backend.Handle{Type: backend.PackFile, Name: packName}, pack)
			save(t, be, backend.Handle{Type: backend.KeyFile, Name: keyName}, key)
			save(t, be, backend.Handle{Type: backend.SnapshotFile, Name: keyName}, key)

			want := []string{
				"config",
				"data/" + packName[:2] + "/" + packName,
				"keys/" + keyName,
				"snapshots/" + keyName,
			}
			if prefix != "" {
				for i := range want {
					want[i] = prefix + "/" + want[i]
				}
			}
			if diff := cmp.Diff(want, objects(t, g, bucket)); diff != "" {
				t.Errorf("objects in bucket %s mismatch (-want +got):\n%s", bucket, diff)
			}

			// Stray objects do not show up as files: save them through a
			// backend one level up, as other file types' names.
			p := prefix
			if p != "" {
				p += "/"
			}
			for _, name := range []string{"data/zz/" + packName, "data/" + packName, "keys/sub/x", "keys/"} {
				putObject(t, g, bucket, p+name, "stray")
			}
			for typ, want := range map[backend.FileType]map[string]int64{
				backend.PackFile: {packName: int64(len(pack))},
				backend.KeyFile:  {keyName: int64(len(key))},
				backend.LockFile: {},
			} {
				got := map[string]int64{}
				err := be.List(t.Context(), typ, func(fi backend.FileInfo) error {
					got[fi.Name] = fi.Size
					return nil
				})
				if err != nil {
					t.Fatalf("List(%v) = %v, want nil", typ, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("List(%v) mismatch (-want +got):\n%s", typ, diff)
				}
			}
		})
	}
}

// putObject uploads an object by name through the JSON API.
func putObject(t *testing.T, g *testservers.GCS, bucket, name, content string) {
	t.Helper()
	u := g.Endpoint + "/upload/storage/v1/b/" + bucket + "/o?uploadType=media&name=" + urlQueryEscape(name)
	resp, err := http.Post(u, "application/octet-stream", strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload %s answered %s", name, resp.Status)
	}
}

func urlQueryEscape(s string) string {
	return strings.NewReplacer("/", "%2F", " ", "%20").Replace(s)
}

func TestOpen(t *testing.T) {
	startServer(t)
	bucket := newBucket()
	loc := "gs:" + bucket + ":/repo"
	be := create(t, config(t, loc))
	config0 := []byte("config content")
	save(t, be, backend.Handle{Type: backend.ConfigFile}, config0)
	_ = be.Close()

	be, err := gs.Open(t.Context(), config(t, loc))
	if err != nil {
		t.Fatalf("Open = %v, want nil", err)
	}
	defer func() { _ = be.Close() }()
	got, err := backend.LoadAll(t.Context(), be, backend.Handle{Type: backend.ConfigFile})
	if err != nil || !bytes.Equal(got, config0) {
		t.Errorf("LoadAll(config) = %q, %v, want %q", got, err, config0)
	}
	if p := be.Properties(); p != (backend.Properties{Connections: gs.DefaultConnections, HasAtomicReplace: true}) {
		t.Errorf("Properties() = %+v", p)
	}

	for _, l := range []string{"gs:" + bucket + ":/", "gs:" + bucket + ":/other", "gs:" + newBucket() + ":/repo"} {
		_, err := gs.Open(t.Context(), config(t, l))
		if !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Open(%s) = %v, want ErrNotExist", l, err)
		} else if !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("Open(%s) = %q, want a message saying the repository does not exist", l, err)
		}
	}

	_, err = gs.Create(t.Context(), config(t, loc))
	if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Create(existing) = %v, want a permanent error", err)
	}
}

// TestCreateWithoutProject: a missing bucket cannot be made without
// GOOGLE_PROJECT_ID, and the message says so; an existing one needs none.
func TestCreateWithoutProject(t *testing.T) {
	startServer(t)
	existing := newBucket()
	_ = create(t, config(t, "gs:"+existing+":/")).Close()

	t.Setenv("GOOGLE_PROJECT_ID", "")
	_, err := gs.Create(t.Context(), config(t, "gs:"+newBucket()+":/"))
	if err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), "GOOGLE_PROJECT_ID") {
		t.Errorf("Create without a project = %v, want a permanent error naming GOOGLE_PROJECT_ID", err)
	}
	be, err := gs.Create(t.Context(), config(t, "gs:"+existing+":/repo"))
	if err != nil {
		t.Fatalf("Create in an existing bucket without a project = %v, want nil", err)
	}
	_ = be.Close()
}

func TestConnectionsOption(t *testing.T) {
	startServer(t)
	cfg := config(t, "gs:"+newBucket()+":/")
	if err := cfg.SetOption("connections", "2"); err != nil {
		t.Fatal(err)
	}
	be := create(t, cfg)
	defer func() { _ = be.Close() }()
	if got := be.Properties().Connections; got != 2 {
		t.Errorf("Properties().Connections = %d, want 2", got)
	}
}

// TestChunkedSave saves files larger than the chunk size, which go up as
// resumable uploads in several requests, and reads them back.
func TestChunkedSave(t *testing.T) {
	startServer(t)
	defer gs.SetChunkSize(256 << 10)()
	be := create(t, config(t, "gs:"+newBucket()+":/"))
	defer func() { _ = be.Close() }()
	for _, size := range []int{256 << 10, 256<<10 + 1, 3<<20 + 17} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
		save(t, be, h, data)
		got, err := backend.LoadAll(t.Context(), be, h)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("LoadAll(%d bytes) = %d bytes, %v; want the data back", size, len(got), err)
		}
		if fi, err := be.Stat(t.Context(), h); err != nil || fi.Size != int64(size) {
			t.Errorf("Stat = %+v, %v; want size %d", fi, err, size)
		}
	}
}

// TestRegionOption: a new bucket is asked for in the region of the
// option, else in "us". (fake-gcs-server puts every bucket in the
// location of its -location flag, so the request is what is checked.)
func TestRegionOption(t *testing.T) {
	startServer(t)
	for region, want := range map[string]string{"": "us", "europe-west3": "europe-west3"} {
		cfg := config(t, "gs:"+newBucket()+":/")
		if region != "" {
			if err := cfg.SetOption("region", region); err != nil {
				t.Fatal(err)
			}
		}
		rec := &bodyRecorder{rt: http.DefaultTransport}
		cfg.Transport = rec
		_ = create(t, cfg).Close()
		if body := rec.body.Load(); body == nil || !strings.Contains(*body, `"location":"`+want+`"`) {
			t.Errorf("region %q: bucket creation request %v, want location %q", region, body, want)
		}
	}
}

// bodyRecorder keeps the body of the last POST to the bucket collection.
type bodyRecorder struct {
	rt   http.RoundTripper
	body atomic.Pointer[string]
}

func (b *bodyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/storage/v1/b") && r.Body != nil {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		s := string(data)
		b.body.Store(&s)
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	return b.rt.RoundTrip(r)
}

// TestWrongToken: fake-gcs-server checks no credentials, so a small
// server that does stands in for Google here. GOOGLE_ACCESS_TOKEN is sent
// as a bearer token; a wrong one is answered 401 (or 403), which is a
// permanent error naming credentials, after exactly one request.
func TestWrongToken(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var requests atomic.Int64
			var sawToken atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if r.Header.Get("Authorization") == "Bearer bogus-token" {
					sawToken.Store(true)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"error":{"code":%d,"message":"Invalid Credentials","errors":[{"reason":"authError"}]}}`, code)
			}))
			defer srv.Close()
			clearCredentials(t)
			t.Setenv("STORAGE_EMULATOR_HOST", srv.URL)
			t.Setenv("GOOGLE_ACCESS_TOKEN", "bogus-token")
			_, err := gs.Open(t.Context(), config(t, "gs:bucket:/repo"))
			if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
				t.Fatalf("Open with a wrong token = %v, want a permanent error", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "credentials") || strings.Contains(msg, "\n") {
				t.Errorf("Open with a wrong token = %q, want one line about credentials", msg)
			}
			if !sawToken.Load() {
				t.Error("the server never saw the token as a bearer token")
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1 (no retries inside the backend)", n)
			}
		})
	}
}

// TestNoCredentials: without GOOGLE_ACCESS_TOKEN, an emulator, or default
// credentials, opening fails at once with a permanent error saying what
// to set.
func TestNoCredentials(t *testing.T) {
	clearCredentials(t)
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1") // no metadata server
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	_, err := gs.Open(t.Context(), config(t, "gs:bucket:/repo"))
	if err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Errorf("Open without credentials = %v, want a permanent error naming GOOGLE_APPLICATION_CREDENTIALS", err)
	}
}

// TestServiceAccountFile: the key file GOOGLE_APPLICATION_CREDENTIALS
// names is exchanged for a token at the token URL it names, and the token
// is sent; a refused exchange is a permanent error about credentials.
func TestServiceAccountFile(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var refuse atomic.Bool
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if refuse.Load() {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
			return
		}
		_, _ = io.WriteString(w, `{"access_token":"sa-token","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer sa-token" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"code":401,"message":"Invalid Credentials"}}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":404,"message":"No such object"}}`)
	}))
	defer storage.Close()

	sa, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "cairn@p.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": tokens.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	clearCredentials(t)
	t.Setenv("STORAGE_EMULATOR_HOST", storage.URL)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", file)

	_, err = gs.Open(t.Context(), config(t, "gs:bucket:/repo"))
	if !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Open with a good key = %v, want ErrNotExist (the server let us in)", err)
	}
	refuse.Store(true)
	_, err = gs.Open(t.Context(), config(t, "gs:bucket:/repo"))
	if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) ||
		!strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Open with a refused key = %v, want a permanent one-line error about credentials", err)
	}
}
