package azure_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/azure"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// startServer starts Azurite with the AZURE_* environment cleared, so
// that only what a test sets counts.
func startServer(t *testing.T) *testservers.AzuriteServer {
	t.Helper()
	for _, name := range []string{"AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY", "AZURE_ACCOUNT_SAS", "AZURE_ENDPOINT_SUFFIX"} {
		t.Setenv(name, "")
	}
	return testservers.Azurite(t)
}

var containerCount atomic.Int64

// newContainer returns a fresh container name.
func newContainer() string {
	return fmt.Sprintf("cairn-test-%d", containerCount.Add(1))
}

// config names the repository at prefix in container on s, with the dev
// account's shared key.
func config(t testing.TB, s *testservers.AzuriteServer, containerName, prefix string) azure.Config {
	t.Helper()
	loc := "azure:" + containerName + ":/" + prefix
	cfg, err := azure.ParseConfig(loc)
	if err != nil {
		t.Fatalf("ParseConfig(%q) = %v, want nil", loc, err)
	}
	if err := cfg.SetOption("endpoint", s.Endpoint); err != nil {
		t.Fatal(err)
	}
	cfg.AccountName, cfg.AccountKey = s.Account, s.Key
	return cfg
}

func create(t testing.TB, cfg azure.Config) *azure.Backend {
	t.Helper()
	be, err := azure.Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Create(%v) = %v, want nil", cfg, err)
	}
	t.Cleanup(func() { _ = be.Close() })
	return be
}

// rawContainer is an SDK client of the container, to look behind the
// backend's back.
func rawContainer(t testing.TB, s *testservers.AzuriteServer, name string) *container.Client {
	t.Helper()
	cred, err := container.NewSharedKeyCredential(s.Account, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClientWithSharedKeyCredential(s.Endpoint+"/"+name, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// blobNames lists every blob in the container.
func blobNames(t testing.TB, c *container.Client) []string {
	t.Helper()
	var names []string
	pager := c.NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Segment.BlobItems {
			names = append(names, *item.Name)
		}
	}
	sort.Strings(names)
	return names
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
	t.Run("container", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return create(t, config(t, s, newContainer(), ""))
		})
	})
	t.Run("prefix", func(t *testing.T) {
		name := newContainer()
		var n atomic.Int64
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return create(t, config(t, s, name, fmt.Sprintf("repos/r%d", n.Add(1))))
		})
	})
}

// TestLayout checks the blob names, with and without a path, and that
// blobs outside the layout are not listed.
func TestLayout(t *testing.T) {
	s := startServer(t)
	pack, key := []byte("pack contents"), []byte("key contents")
	packName, keyName := hashName(pack), hashName(key)
	for _, prefix := range []string{"", "some/prefix"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			name := newContainer()
			be := create(t, config(t, s, name, prefix+"/"))
			save(t, be, backend.Handle{Type: backend.ConfigFile}, []byte("config"))
			save(t, be, backend.Handle{Type: backend.PackFile, Name: packName}, pack)
			save(t, be, backend.Handle{Type: backend.KeyFile, Name: keyName}, key)
			save(t, be, backend.Handle{Type: backend.SnapshotFile, Name: keyName}, key)
			want := []string{"config", "data/" + packName[:2] + "/" + packName, "keys/" + keyName, "snapshots/" + keyName}
			p := ""
			if prefix != "" {
				p = prefix + "/"
			}
			for i := range want {
				want[i] = p + want[i]
			}
			raw := rawContainer(t, s, name)
			if diff := cmp.Diff(want, blobNames(t, raw)); diff != "" {
				t.Errorf("blobs in container %s mismatch (-want +got):\n%s", name, diff)
			}

			for _, stray := range []string{"data/zz/" + packName, "data/" + packName, "keys/sub/x", "keysx"} {
				_, err := raw.NewBlockBlobClient(p+stray).UploadBuffer(t.Context(), []byte("stray"), nil)
				if err != nil {
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
					t.Fatalf("List(%v) = %v", typ, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("List(%v) mismatch (-want +got):\n%s", typ, diff)
				}
			}
		})
	}
}

// TestBlockUpload: a file above the single-put limit goes up as staged
// blocks and one commit, and comes back whole.
func TestBlockUpload(t *testing.T) {
	s := startServer(t)
	defer azure.SetUploadSizes(1000, 300)()
	name := newContainer()
	be := create(t, config(t, s, name, "r"))
	data := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 70) // 2520 bytes
	h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
	save(t, be, h, data)
	got, err := backend.LoadAll(t.Context(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("LoadAll = %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	blobName := "r/data/" + h.Name[:2] + "/" + h.Name
	list, err := rawContainer(t, s, name).NewBlockBlobClient(blobName).GetBlockList(t.Context(), blockblob.BlockListTypeAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.CommittedBlocks); n != 9 {
		t.Errorf("%d committed blocks, want 9 of at most 300 bytes", n)
	}
	// Saving again replaces it, smaller, in one request.
	small := []byte("now small")
	save(t, be, h, small)
	if got, err := backend.LoadAll(t.Context(), be, h); err != nil || !bytes.Equal(got, small) {
		t.Errorf("LoadAll after replacing = %q, %v; want %q", got, err, small)
	}
}

// TestListPages: a listing longer than a page reads every page.
func TestListPages(t *testing.T) {
	s := startServer(t)
	defer azure.SetListPageSize(2)()
	be := create(t, config(t, s, newContainer(), ""))
	want := map[string]int64{}
	for i := range 7 {
		data := []byte(fmt.Sprintf("snapshot %d", i))
		save(t, be, backend.Handle{Type: backend.SnapshotFile, Name: hashName(data)}, data)
		want[hashName(data)] = int64(len(data))
	}
	got := map[string]int64{}
	if err := be.List(t.Context(), backend.SnapshotFile, func(fi backend.FileInfo) error {
		got[fi.Name] = fi.Size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
}

// TestWrongKey: a key the service does not accept is a permanent access
// error, at once.
func TestWrongKey(t *testing.T) {
	s := startServer(t)
	name := newContainer()
	create(t, config(t, s, name, ""))
	cfg := config(t, s, name, "")
	cfg.AccountKey = "d3Jvbmcga2V5IGZvciB0aGUgZGV2IGFjY291bnQ=" // base64 of "wrong key for the dev account"
	start := time.Now()
	for op, f := range map[string]func() error{
		"Create": func() error { _, err := azure.Create(t.Context(), cfg); return err },
		"Open":   func() error { _, err := azure.Open(t.Context(), cfg); return err },
	} {
		err := f()
		if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
			t.Errorf("%s with a wrong key = %v, want a permanent error", op, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "wrong credentials") || strings.Contains(msg, "\n") {
			t.Errorf("%s with a wrong key = %q, want one line naming wrong credentials", op, msg)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusals took %v; retried?", d)
	}
	cfg.AccountKey = "not base64!"
	if _, err := azure.Open(t.Context(), cfg); err == nil || !backend.IsPermanent(err) {
		t.Errorf("Open with a malformed key = %v, want a permanent error", err)
	}
	cfg.AccountKey = ""
	if _, err := azure.Open(t.Context(), cfg); err == nil || !backend.IsPermanent(err) || !strings.Contains(err.Error(), "AZURE_ACCOUNT_KEY") {
		t.Errorf("Open without credentials = %v, want a permanent error naming the variables", err)
	}
}

// TestSAS: a container SAS token from the environment gives access, with
// or without its leading "?"; one without the right to delete cannot.
func TestSAS(t *testing.T) {
	s := startServer(t)
	name := newContainer()
	create(t, config(t, s, name, ""))
	cred, err := container.NewSharedKeyCredential(s.Account, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	token := func(perms sas.ContainerPermissions) string {
		q, err := sas.BlobSignatureValues{
			Protocol:      sas.ProtocolHTTPSandHTTP,
			ExpiryTime:    time.Now().Add(time.Hour).UTC(),
			Permissions:   perms.String(),
			ContainerName: name,
		}.SignWithSharedKey(cred)
		if err != nil {
			t.Fatal(err)
		}
		return q.Encode()
	}
	cfg, err := azure.ParseConfig("azure:" + name + ":/sas")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetOption("endpoint", s.Endpoint); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_ACCOUNT_NAME", s.Account)
	t.Setenv("AZURE_ACCOUNT_SAS", "?"+token(sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, Delete: true, List: true}))
	be := create(t, cfg)
	data := []byte("via sas")
	h := backend.Handle{Type: backend.SnapshotFile, Name: hashName(data)}
	save(t, be, h, data)
	if got, err := backend.LoadAll(t.Context(), be, h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("LoadAll = %q, %v", got, err)
	}

	t.Setenv("AZURE_ACCOUNT_SAS", token(sas.ContainerPermissions{Read: true, List: true}))
	ro, err := azure.Open(t.Context(), cfg)
	if err == nil {
		defer func() { _ = ro.Close() }()
		t.Fatal("Open of a path without a config = nil, want ErrNotExist")
	}
	if !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Open with a read-only SAS = %v, want ErrNotExist (no config)", err)
	}
	save(t, be, backend.Handle{Type: backend.ConfigFile}, []byte("config"))
	ro, err = azure.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open with a read-only SAS = %v", err)
	}
	defer func() { _ = ro.Close() }()
	if err := ro.Remove(t.Context(), h); err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Remove with a read-only SAS = %v, want a permanent error", err)
	}
}

// TestAccessTier: -o azure.access-tier sets the tier of new blobs.
func TestAccessTier(t *testing.T) {
	s := startServer(t)
	name := newContainer()
	cfg := config(t, s, name, "")
	if err := cfg.SetOption("access-tier", "cool"); err != nil {
		t.Fatal(err)
	}
	be := create(t, cfg)
	data := []byte("cool data")
	h := backend.Handle{Type: backend.PackFile, Name: hashName(data)}
	save(t, be, h, data)
	props, err := rawContainer(t, s, name).NewBlobClient("data/"+h.Name[:2]+"/"+h.Name).GetProperties(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if props.AccessTier == nil || *props.AccessTier != "Cool" {
		t.Errorf("access tier = %v, want Cool", props.AccessTier)
	}
}

// TestMissing: opening a missing container or a path without a config is
// ErrNotExist; Create makes the container.
func TestMissing(t *testing.T) {
	s := startServer(t)
	cfg := config(t, s, newContainer(), "repo")
	if _, err := azure.Open(t.Context(), cfg); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Open of a missing container = %v, want ErrNotExist", err)
	}
	be := create(t, cfg)
	save(t, be, backend.Handle{Type: backend.ConfigFile}, []byte("config"))
	if _, err := azure.Create(t.Context(), cfg); err == nil || !backend.IsPermanent(err) {
		t.Errorf("Create over an existing repository = %v, want a permanent error", err)
	}
	if be, err := azure.Open(t.Context(), cfg); err != nil {
		t.Errorf("Open after Create = %v", err)
	} else {
		_ = be.Close()
	}
}
