package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/s3"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// startServer starts versitygw and puts its credentials in the AWS
// environment variables, with every other source of credentials cleared.
func startServer(t *testing.T) *testservers.S3 {
	t.Helper()
	s := testservers.Versitygw(t)
	clearCredentials(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	return s
}

// clearCredentials hides every credential the environment might hold.
func clearCredentials(t *testing.T) {
	t.Helper()
	for _, name := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
		"AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
		"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_EC2_METADATA_DISABLED",
	} {
		t.Setenv(name, "")
	}
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_CONFIG_FILE", none)
}

var bucketCount atomic.Int64

// newBucket returns a fresh bucket name.
func newBucket() string {
	return fmt.Sprintf("cairn-test-%d", bucketCount.Add(1))
}

// config parses the location of path ("bucket[/prefix]") on s, with
// path-style bucket lookup.
func config(t testing.TB, s *testservers.S3, path string) s3.Config {
	t.Helper()
	loc := "s3:" + s.Endpoint + "/" + path
	cfg, err := s3.ParseConfig(loc)
	if err != nil {
		t.Fatalf("ParseConfig(%q) = %v, want nil", loc, err)
	}
	if err := cfg.SetOption("bucket-lookup", "path"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func create(t testing.TB, cfg s3.Config) *s3.Backend {
	t.Helper()
	be, err := s3.Create(t.Context(), cfg)
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
	s := startServer(t)
	t.Run("bucket", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return create(t, config(t, s, newBucket()))
		})
	})
	t.Run("prefix", func(t *testing.T) {
		bucket := newBucket()
		var n atomic.Int64
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return create(t, config(t, s, fmt.Sprintf("%s/repos/r%d", bucket, n.Add(1))))
		})
	})
}

// files returns the paths of the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got
}

// TestLayout checks the object names on the server's disk, with and
// without a prefix.
func TestLayout(t *testing.T) {
	s := startServer(t)
	pack := []byte("pack contents")
	key := []byte("key contents")
	packName, keyName := hashName(pack), hashName(key)
	for _, prefix := range []string{"", "some/prefix"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			bucket := newBucket()
			path := bucket
			if prefix != "" {
				path += "/" + prefix + "/"
			}
			be := create(t, config(t, s, path))
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
			got := files(t, filepath.Join(s.Dir, bucket))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("files in bucket %s mismatch (-want +got):\n%s", bucket, diff)
			}
			data, err := os.ReadFile(filepath.Join(s.Dir, bucket, filepath.FromSlash(want[1])))
			if err != nil || !bytes.Equal(data, pack) {
				t.Errorf("pack file on disk = %q, %v, want %q", data, err, pack)
			}

			// Stray objects do not show up as files.
			for _, name := range []string{"data/zz/" + packName, "data/" + packName, "keys/sub/x", "keys/"} {
				full := filepath.Join(s.Dir, bucket, filepath.FromSlash(prefix), filepath.FromSlash(name))
				if strings.HasSuffix(name, "/") {
					continue // the directory exists already
				}
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte("stray"), 0o644); err != nil {
					t.Fatal(err)
				}
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

func TestOpen(t *testing.T) {
	s := startServer(t)
	bucket := newBucket()
	be := create(t, config(t, s, bucket+"/repo"))
	config0 := []byte("config content")
	save(t, be, backend.Handle{Type: backend.ConfigFile}, config0)
	_ = be.Close()

	be, err := s3.Open(t.Context(), config(t, s, bucket+"/repo"))
	if err != nil {
		t.Fatalf("Open = %v, want nil", err)
	}
	defer func() { _ = be.Close() }()
	got, err := backend.LoadAll(t.Context(), be, backend.Handle{Type: backend.ConfigFile})
	if err != nil || !bytes.Equal(got, config0) {
		t.Errorf("LoadAll(config) = %q, %v, want %q", got, err, config0)
	}
	if p := be.Properties(); p != (backend.Properties{Connections: s3.DefaultConnections, HasAtomicReplace: true}) {
		t.Errorf("Properties() = %+v", p)
	}

	for _, path := range []string{bucket, bucket + "/other", newBucket(), newBucket() + "/repo"} {
		_, err := s3.Open(t.Context(), config(t, s, path))
		if !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Open(%s) = %v, want ErrNotExist", path, err)
		} else if !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("Open(%s) = %q, want a message saying the repository does not exist", path, err)
		}
	}

	_, err = s3.Create(t.Context(), config(t, s, bucket+"/repo"))
	if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Create(existing) = %v, want a permanent error", err)
	}
}

func TestConnectionsOption(t *testing.T) {
	s := startServer(t)
	cfg := config(t, s, newBucket())
	if err := cfg.SetOption("connections", "2"); err != nil {
		t.Fatal(err)
	}
	be := create(t, cfg)
	defer func() { _ = be.Close() }()
	if got := be.Properties().Connections; got != 2 {
		t.Errorf("Properties().Connections = %d, want 2", got)
	}
}

// TestStorageClass: the storage class goes with pack uploads only.
func TestStorageClass(t *testing.T) {
	s := startServer(t)
	cfg := config(t, s, newBucket())
	if err := cfg.SetOption("storage-class", "STANDARD"); err != nil {
		t.Fatal(err)
	}
	rec := &classRecorder{rt: http.DefaultTransport.(*http.Transport).Clone(), classes: map[string]string{}}
	cfg.Transport = rec
	be := create(t, cfg)
	defer func() { _ = be.Close() }()
	pack := []byte("pack")
	ph := backend.Handle{Type: backend.PackFile, Name: hashName(pack)}
	save(t, be, ph, pack)
	snap := []byte("snapshot")
	sh := backend.Handle{Type: backend.SnapshotFile, Name: hashName(snap)}
	save(t, be, sh, snap)
	if got, err := backend.LoadAll(t.Context(), be, ph); err != nil || !bytes.Equal(got, pack) {
		t.Errorf("LoadAll(%v) = %q, %v, want %q", ph, got, err, pack)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := rec.classes[ph.Name]; got != "STANDARD" {
		t.Errorf("pack upload sent storage class %q, want STANDARD", got)
	}
	if got, ok := rec.classes[sh.Name]; !ok || got != "" {
		t.Errorf("snapshot upload sent storage class %q (seen %v), want none", got, ok)
	}
}

// classRecorder records the storage class header of every PUT, by the
// last element of its path.
type classRecorder struct {
	rt      http.RoundTripper
	mu      sync.Mutex
	classes map[string]string
}

func (c *classRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		c.mu.Lock()
		c.classes[path.Base(r.URL.Path)] = r.Header.Get("X-Amz-Storage-Class")
		c.mu.Unlock()
	}
	return c.rt.RoundTrip(r)
}

func TestWrongSecret(t *testing.T) {
	s := startServer(t)
	path := newBucket()
	be := create(t, config(t, s, path))
	save(t, be, backend.Handle{Type: backend.ConfigFile}, []byte("config"))
	_ = be.Close()

	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
	for name, fn := range map[string]func(context.Context, s3.Config) (*s3.Backend, error){
		"Open": s3.Open, "Create": s3.Create,
	} {
		_, err := fn(t.Context(), config(t, s, path))
		if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
			t.Errorf("%s with a wrong secret = %v, want a permanent error", name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "credentials") || !strings.Contains(msg, "access") {
			t.Errorf("%s with a wrong secret = %q, want a message about access and credentials", name, msg)
		}
	}
}

// TestNoCredentials checks that a machine without credentials does not
// wait long for the instance metadata service and tries anonymous access,
// which versitygw refuses.
func TestNoCredentials(t *testing.T) {
	s := startServer(t)
	path := newBucket()
	be := create(t, config(t, s, path))
	save(t, be, backend.Handle{Type: backend.ConfigFile}, []byte("config"))
	_ = be.Close()

	clearCredentials(t)
	t.Setenv("HOME", t.TempDir())
	start := time.Now()
	_, err := s3.Open(t.Context(), config(t, s, path))
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open without credentials took %v, want under 10s", d)
	}
	if err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("Open without credentials = %v, want a permanent access denied error", err)
	}
}

func TestCABundleIgnored(t *testing.T) {
	s := startServer(t)
	t.Setenv("AWS_CA_BUNDLE", "/nonexistent")
	be := create(t, config(t, s, newBucket()))
	defer func() { _ = be.Close() }()
	data := []byte("index")
	h := backend.Handle{Type: backend.IndexFile, Name: hashName(data)}
	save(t, be, h, data)
	if got, err := backend.LoadAll(t.Context(), be, h); err != nil || !bytes.Equal(got, data) {
		t.Errorf("LoadAll(%v) = %q, %v, want %q", h, got, err, data)
	}
}

// TestLoadFnReadError checks that fn failing on its own is permanent.
func TestLoadFnError(t *testing.T) {
	s := startServer(t)
	be := create(t, config(t, s, newBucket()))
	defer func() { _ = be.Close() }()
	data := bytes.Repeat([]byte("x"), 1000)
	h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
	save(t, be, h, data)
	errStop := errors.New("stop")
	err := be.Load(t.Context(), h, 10, 5, func(rd io.Reader) error {
		if _, err := io.ReadFull(rd, make([]byte, 10)); err != nil {
			return err
		}
		return errStop
	})
	if !errors.Is(err, errStop) || !backend.IsPermanent(err) {
		t.Errorf("Load with failing fn = %v, want permanent %v", err, errStop)
	}
}

// TestCredentialSources opens a repository with credentials from each
// source other than the AWS variables.
func TestCredentialSources(t *testing.T) {
	s := startServer(t)
	path := newBucket()
	be := create(t, config(t, s, path))
	save(t, be, backend.Handle{Type: backend.ConfigFile}, []byte("config"))
	_ = be.Close()

	tests := map[string]func(t *testing.T){
		"minio env": func(t *testing.T) {
			t.Setenv("MINIO_ROOT_USER", s.AccessKey)
			t.Setenv("MINIO_ROOT_PASSWORD", s.SecretKey)
		},
		"shared file with profile": func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "credentials")
			content := fmt.Sprintf("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n"+
				"[cairn]\naws_access_key_id = %s\naws_secret_access_key = %s\n", s.AccessKey, s.SecretKey)
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
			t.Setenv("AWS_PROFILE", "cairn")
		},
	}
	for name, setup := range tests {
		t.Run(name, func(t *testing.T) {
			clearCredentials(t)
			setup(t)
			be, err := s3.Open(t.Context(), config(t, s, path))
			if err != nil {
				t.Fatalf("Open = %v, want nil", err)
			}
			_ = be.Close()
		})
	}
}
