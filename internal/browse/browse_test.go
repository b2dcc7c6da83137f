package browse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
)

// memSource is an in-memory Source for the unit tests; the FUSE and web
// tests in cmd/cairn use real repositories.
type memSource struct {
	mu    sync.Mutex
	snaps map[id.ID][]byte
	blobs map[blob.Handle][]byte
	loads int
}

func newMemSource() *memSource {
	return &memSource{snaps: map[id.ID][]byte{}, blobs: map[blob.Handle][]byte{}}
}

func (m *memSource) ListSnapshots(_ context.Context, fn func(id.ID) error) error {
	m.mu.Lock()
	ids := make([]id.ID, 0, len(m.snaps))
	for k := range m.snaps {
		ids = append(ids, k)
	}
	m.mu.Unlock()
	for _, k := range ids {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) LoadSnapshotJSON(_ context.Context, fid id.ID) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.snaps[fid]
	if !ok {
		return nil, backend.ErrNotExist
	}
	return b, nil
}

func (m *memSource) LoadBlob(_ context.Context, h blob.Handle) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	b, ok := m.blobs[h]
	if !ok {
		return nil, fmt.Errorf("blob %v not found", h)
	}
	return slices.Clone(b), nil
}

func (m *memSource) BlobSize(h blob.Handle) (uint32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[h]
	return uint32(len(b)), ok
}

func (m *memSource) addBlob(t blob.Type, b []byte) id.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	bid := id.Hash(b)
	m.blobs[blob.Handle{ID: bid, Type: t}] = b
	return bid
}

func (m *memSource) addTree(t *testing.T, nodes ...*tree.Node) id.ID {
	t.Helper()
	tr := &tree.Tree{}
	for _, n := range nodes {
		if err := tr.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	b, err := tr.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m.addBlob(blob.Tree, b)
}

func (m *memSource) addSnapshot(t *testing.T, host string, tags []string, when time.Time, root id.ID) id.ID {
	t.Helper()
	sn := &snapshot.Snapshot{Time: when, Tree: &root, Paths: []string{"/data"}, Hostname: host, Username: "u", Tags: tags}
	b, err := json.Marshal(sn)
	if err != nil {
		t.Fatal(err)
	}
	sid := id.Hash(b)
	m.mu.Lock()
	m.snaps[sid] = b
	m.mu.Unlock()
	return sid
}

func names(d *Dir) []string {
	var out []string
	for _, e := range d.Entries {
		out = append(out, e.Name)
	}
	return out
}

func TestLayout(t *testing.T) {
	src := newMemSource()
	root := src.addTree(t, &tree.Node{Name: "f", Type: tree.TypeFile, Content: []id.ID{}})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := src.addSnapshot(t, "h1", []string{"x", "y/z"}, t0, root)
	b := src.addSnapshot(t, "h1", nil, t0, root) // same time: "-1"
	c := src.addSnapshot(t, "h2", []string{"x"}, t0.Add(time.Hour), root)
	v, err := New(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := v.Layout(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(l), []string{"hosts", "ids", "snapshots", "tags"}; !slices.Equal(got, want) {
		t.Fatalf("root: %v, want %v", got, want)
	}
	check := func(p string, want ...string) {
		t.Helper()
		e, rest, err := l.Resolve(p)
		if err != nil || e.Dir == nil || rest != "/" {
			t.Fatalf("%s: %v %v %q", p, e, err, rest)
		}
		if got := names(e.Dir); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", p, got, want)
		}
	}
	ts := t0.Format(DefaultTimeTemplate)
	ts2 := t0.Add(time.Hour).Format(DefaultTimeTemplate)
	check("snapshots", ts, ts+"-1", ts2, "latest")
	check("hosts/h1", ts, ts+"-1", "latest")
	check("tags", "x", "y_z")
	check("tags/x", ts, ts2, "latest")
	ids := []string{a.Str(), b.Str(), c.Str()}
	slices.Sort(ids)
	check("ids", ids...) // no latest: the template does not end in %T
	e, _, _ := l.Resolve("snapshots/latest")
	if e.Link != ts2 {
		t.Errorf("snapshots/latest -> %q, want %q", e.Link, ts2)
	}
	e, rest, err := l.Resolve("ids/" + c.Str() + "/f/x")
	if err != nil || e.Snapshot == nil || e.Snapshot.ID != c || rest != "/f/x" {
		t.Errorf("resolve into a snapshot: %v %q %v", e, rest, err)
	}
	if _, _, err := l.Resolve("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing path: %v", err)
	}
	if !l.ModTime.Equal(t0.Add(time.Hour)) {
		t.Errorf("root time %v", l.ModTime)
	}

	// Custom templates and filter.
	v2, err := New(src, Options{PathTemplates: []string{"by/%h/%u/%T"}, TimeTemplate: "2006", Filter: snapshot.Filter{Hosts: []string{"h2"}}})
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := v2.Layout(t.Context())
	if e, _, err := l2.Resolve("by/h2/u/2026"); err != nil || e.Snapshot == nil || e.Snapshot.ID != c {
		t.Errorf("custom template: %v %v", e, err)
	}
	if _, _, err := l2.Resolve("by/h1"); err == nil {
		t.Error("filtered host present")
	}
	for _, bad := range []string{"", "a//b", "a/../b", "./x"} {
		if _, err := New(src, Options{PathTemplates: []string{bad}}); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
}

func TestRefresh(t *testing.T) {
	src := newMemSource()
	root := src.addTree(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := src.addSnapshot(t, "h", nil, t0, root)
	reloads := 0
	var warned []error
	v, err := New(src, Options{Refresh: -1, Reload: func(context.Context) error { reloads++; return nil }, Warn: func(err error) { warned = append(warned, err) }})
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := v.Snapshots(t.Context())
	if len(snaps) != 1 || reloads != 0 {
		t.Fatalf("first: %d snapshots, %d reloads", len(snaps), reloads)
	}
	b := src.addSnapshot(t, "h", nil, t0.Add(time.Minute), root)
	src.mu.Lock()
	src.snaps[id.Hash([]byte("x"))] = []byte("not json") // damaged: skipped, reported once
	src.mu.Unlock()
	snaps, _ = v.Snapshots(t.Context())
	if len(snaps) != 2 || snaps[1].ID != b || reloads != 1 {
		t.Fatalf("after a backup: %d snapshots, %d reloads", len(snaps), reloads)
	}
	v.Snapshots(t.Context())
	if len(warned) != 1 {
		t.Errorf("damaged snapshot reported %d times: %v", len(warned), warned)
	}
	src.mu.Lock()
	delete(src.snaps, a)
	src.mu.Unlock()
	snaps, _ = v.Snapshots(t.Context())
	if len(snaps) != 1 || snaps[0].ID != b {
		t.Fatalf("after a forget: %v", snaps)
	}
	if sn, err := v.Snapshot(t.Context(), b.String()[:6]); err != nil || sn.ID != b {
		t.Errorf("by prefix: %v %v", sn, err)
	}
	if _, err := v.Snapshot(t.Context(), a.String()); !errors.Is(err, ErrNotFound) {
		t.Errorf("forgotten snapshot: %v", err)
	}
	if _, err := v.Snapshot(t.Context(), "zz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad ref: %v", err)
	}
}

func TestFileReadAt(t *testing.T) {
	src := newMemSource()
	var content []id.ID
	var whole []byte
	for i := range 5 {
		b := bytes.Repeat([]byte{byte('a' + i)}, 1000+i*37)
		content = append(content, src.addBlob(blob.Data, b))
		whole = append(whole, b...)
	}
	file := &tree.Node{Name: "f", Type: tree.TypeFile, Content: content, Size: uint64(len(whole))}
	sub := src.addTree(t, file)
	root := src.addTree(t, &tree.Node{Name: "d", Type: tree.TypeDir, Subtree: &sub})
	sid := src.addSnapshot(t, "h", nil, time.Now(), root)
	v, err := New(src, Options{BlobCache: 3000})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := v.Snapshot(t.Context(), sid.String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := v.Find(t.Context(), sn, "/d/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Find(t.Context(), sn, "/d/f/x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("path below a file: %v", err)
	}
	if _, err := v.Find(t.Context(), sn, "/nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing path: %v", err)
	}
	f, err := v.Open(n)
	if err != nil {
		t.Fatal(err)
	}
	if f.Size() != int64(len(whole)) {
		t.Fatalf("size %d, want %d", f.Size(), len(whole))
	}
	for off := int64(0); off < int64(len(whole)); off += 333 {
		for _, l := range []int{1, 500, 1000, 2500, 6000} {
			buf := make([]byte, l)
			got, err := f.ReadAt(t.Context(), buf, off)
			want := whole[off:min(off+int64(l), int64(len(whole)))]
			if !bytes.Equal(buf[:got], want) {
				t.Fatalf("read %d at %d: wrong bytes", l, off)
			}
			if (got < l) != errors.Is(err, io.EOF) {
				t.Fatalf("read %d at %d: %d bytes, err %v", l, off, got, err)
			}
		}
	}
	if v.blobs.size() > 3000 {
		t.Errorf("blob cache holds %d bytes, bound 3000", v.blobs.size())
	}
	if _, err := v.Open(&tree.Node{Name: "x", Type: tree.TypeFile, Content: []id.ID{id.Hash([]byte("missing"))}}); err == nil || !strings.Contains(err.Error(), "not in the index") {
		t.Errorf("unknown blob: %v", err)
	}
}

func TestLRUBound(t *testing.T) {
	c := newLRU[int, int](10)
	for i := range 100 {
		c.add(i, i, 3)
	}
	if c.size() > 10 {
		t.Fatalf("size %d", c.size())
	}
	if _, ok := c.get(99); !ok {
		t.Error("newest evicted")
	}
	if _, ok := c.get(0); ok {
		t.Error("oldest kept")
	}
	c.add(1000, 0, 11) // larger than the cache: not kept
	if _, ok := c.get(1000); ok || c.size() > 10 {
		t.Error("oversized entry kept")
	}
}
