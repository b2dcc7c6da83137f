package cache_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/cache"
)

func keepNone(string) bool { return false }

// TestClearConcurrent is restic #4760 / PR #5047 in one process: two
// caches on the same directory (as two processes would have) clear the
// same stale set at the same moment. Neither warns, and all is gone.
func TestClearConcurrent(t *testing.T) {
	base := t.TempDir()
	c1, w1 := openCache(t, base, cache.Options{})
	c2, w2 := openCache(t, base, cache.Options{})
	be := c1.Wrap(mem.New())
	for round := range 5 {
		for i := range 150 {
			for _, typ := range []backend.FileType{backend.IndexFile, backend.SnapshotFile} {
				h, _ := put(t, be, typ, uint64(round*1000+i), 100)
				age(t, entryPath(c1, h), 2*cache.DefaultGrace)
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, c := range []*cache.Cache{c1, c2, c1, c2} {
			wg.Go(func() {
				<-start
				c.Clear(backend.IndexFile, keepNone)
				c.Clear(backend.SnapshotFile, keepNone)
			})
		}
		close(start)
		wg.Wait()
		for _, sub := range []string{"index", "snapshots"} {
			if left := files(t, filepath.Join(c1.Dir, sub)); len(left) > 0 {
				t.Fatalf("round %d: %d files left in %s after concurrent Clear: %q", round, len(left), sub, left)
			}
		}
	}
	w1.none(t)
	w2.none(t)
	if c1.Disabled() || c2.Disabled() {
		t.Error("a cache was disabled by concurrent clears")
	}
}

// TestClearGrace: Clear keeps what keep says and what is younger than the
// grace period, and removes the rest.
func TestClearGrace(t *testing.T) {
	tests := []struct {
		name  string
		grace time.Duration // 0: the default
		age   time.Duration
		kept  bool // by keep
		want  bool // still cached after Clear
	}{
		{name: "fresh", age: 0, want: true},
		{name: "within default grace", age: cache.DefaultGrace - time.Minute, want: true},
		{name: "beyond default grace", age: cache.DefaultGrace + time.Minute, want: false},
		{name: "beyond default grace but kept", age: 48 * time.Hour, kept: true, want: true},
		{name: "within short grace", grace: 10 * time.Minute, age: 5 * time.Minute, want: true},
		{name: "beyond short grace", grace: 10 * time.Minute, age: 11 * time.Minute, want: false},
		{name: "within long grace", grace: 48 * time.Hour, age: 47 * time.Hour, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := openCache(t, t.TempDir(), cache.Options{Grace: tt.grace})
			be := c.Wrap(mem.New())
			for _, typ := range []backend.FileType{backend.IndexFile, backend.SnapshotFile} {
				h, _ := put(t, be, typ, 1, 100)
				age(t, entryPath(c, h), tt.age)
				c.Clear(typ, func(name string) bool { return tt.kept && name == h.Name })
				if got := exists(t, entryPath(c, h)); got != tt.want {
					t.Errorf("%v aged %v: cached after Clear = %v, want %v", typ, tt.age, got, tt.want)
				}
			}
			w.none(t)
		})
	}
}

// TestClearPacksGrace: the pack cleanup after loading the index spares a
// young pack that another process has just cached but not yet indexed.
func TestClearPacksGrace(t *testing.T) {
	c, w := openCache(t, t.TempDir(), cache.Options{})
	m := mem.New()
	be := c.Wrap(m)
	young, _ := put(t, m, backend.PackFile, 1, 1000)
	old, _ := put(t, m, backend.PackFile, 2, 1000)
	indexed, _ := put(t, m, backend.PackFile, 3, 1000)
	for _, h := range []backend.Handle{young, old, indexed} {
		if err := be.Warm(t.Context(), h); err != nil {
			t.Fatal(err)
		}
	}
	age(t, entryPath(c, old), 2*cache.DefaultGrace)
	age(t, entryPath(c, indexed), 2*cache.DefaultGrace)
	be.ClearPacks(func(name string) bool { return name == indexed.Name })
	for _, tt := range []struct {
		h    backend.Handle
		want bool
	}{{young, true}, {old, false}, {indexed, true}} {
		if got := exists(t, entryPath(c, tt.h)); got != tt.want {
			t.Errorf("pack %.8s cached after ClearPacks = %v, want %v", tt.h.Name, got, tt.want)
		}
	}
	w.none(t)
}

// TestClearSweepsJunk: temporary and lock files older than TempMaxAge
// are removed by Clear of their type, and young temporary files of a gone
// process of this host; younger ones (in use by another process) are not,
// whatever keep says.
func TestClearSweepsJunk(t *testing.T) {
	c, w := openCache(t, t.TempDir(), cache.Options{})
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host := strings.SplitN(backend.TempWriterTag(), "-", 2)[0]
	dead := fmt.Sprintf("tmp-%s-%d-ab12", host, gone.Process.Pid)
	live := "tmp-" + backend.TempWriterTag() + "-ab12"
	type file struct {
		path string
		age  time.Duration
		want bool
	}
	var fs []file
	for _, sub := range []string{"data", "index", "snapshots"} {
		dir := filepath.Join(c.Dir, sub, "ab")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		name := "ab" + testRepoID[2:]
		fs = append(fs,
			file{filepath.Join(dir, "tmp-0123456789abcdef"), cache.TempMaxAge + time.Minute, false},
			file{filepath.Join(dir, "tmp-fedcba9876543210"), cache.TempMaxAge - time.Minute, true},
			file{filepath.Join(dir, dead), time.Second, false},
			file{filepath.Join(dir, live), time.Second, true},
			file{filepath.Join(dir, name+".lock"), cache.TempMaxAge + time.Minute, false},
			file{filepath.Join(dir, "ab"+testRepoID[3:]+"0.lock"), time.Second, true},
			file{filepath.Join(dir, name), 30 * 24 * time.Hour, true}, // kept by keep
		)
	}
	for _, f := range fs {
		if err := os.WriteFile(f.path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		age(t, f.path, f.age)
	}
	keepAll := func(string) bool { return true }
	for _, typ := range []backend.FileType{backend.PackFile, backend.IndexFile, backend.SnapshotFile} {
		c.Clear(typ, keepAll)
	}
	for _, f := range fs {
		if got := exists(t, f.path); got != f.want {
			t.Errorf("%s aged %v: present after Clear = %v, want %v", f.path, f.age, got, f.want)
		}
	}
	w.none(t)
}

// TestLRU: with MaxSize, warming more packs than fit evicts the least
// recently used; a cache hit (Load or Warm) counts as use.
func TestLRU(t *testing.T) {
	const size = 10 << 10
	c, w := openCache(t, t.TempDir(), cache.Options{MaxSize: 35 << 10}) // 3.5 packs; evicts down to 90 %
	m := mem.New()
	be := c.Wrap(m)
	var p []backend.Handle
	for i := range 5 {
		h, _ := put(t, m, backend.PackFile, uint64(i), size)
		p = append(p, h)
	}
	warm := func(h backend.Handle) {
		t.Helper()
		if err := be.Warm(t.Context(), h); err != nil {
			t.Fatalf("Warm(%v) = %v", h, err)
		}
	}
	cached := func() []int {
		var out []int
		for i, h := range p {
			if exists(t, entryPath(c, h)) {
				out = append(out, i)
			}
		}
		return out
	}
	setAges := func(ages map[int]time.Duration) {
		for i, d := range ages {
			age(t, entryPath(c, p[i]), d)
		}
	}

	for i := range 3 {
		warm(p[i])
	}
	if got := cached(); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("cached after warming 3 packs = %v, want [0 1 2]", got)
	}
	// Used in the order 0, 1, 2; then 0 again, by a load.
	setAges(map[int]time.Duration{0: 3 * time.Hour, 1: 2 * time.Hour, 2: time.Hour})
	if _, err := backend.LoadAll(t.Context(), be, p[0]); err != nil {
		t.Fatal(err)
	}
	warm(p[3])
	if got := cached(); !slices.Equal(got, []int{0, 2, 3}) {
		t.Fatalf("cached after loading 0 and warming 3 = %v, want [0 2 3] (1 least recently used)", got)
	}
	// Used in the order 0, 2, 3; then 0 again, by a warm that hits.
	setAges(map[int]time.Duration{0: 3 * time.Hour, 2: 2 * time.Hour, 3: time.Hour})
	warm(p[0])
	warm(p[4])
	if got := cached(); !slices.Equal(got, []int{0, 3, 4}) {
		t.Fatalf("cached after warming 0 and 4 = %v, want [0 3 4] (2 least recently used)", got)
	}
	// Evicted packs still load, from the backend.
	for i, h := range p {
		got, err := backend.LoadAll(t.Context(), be, h)
		if err != nil || hashName(got) != h.Name {
			t.Errorf("LoadAll(pack %d) = %d bytes, %v, want its content", i, len(got), err)
		}
	}
	w.none(t)
}

// TestLRUPackLargerThanMax: a pack larger than the whole bound is cached
// and evicted at once, without trouble.
func TestLRUPackLargerThanMax(t *testing.T) {
	c, w := openCache(t, t.TempDir(), cache.Options{MaxSize: 1 << 10})
	m := mem.New()
	be := c.Wrap(m)
	h, data := put(t, m, backend.PackFile, 1, 4<<10)
	if err := be.Warm(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	if exists(t, entryPath(c, h)) {
		t.Error("pack larger than MaxSize stays cached")
	}
	got, err := backend.LoadAll(t.Context(), be, h)
	if err != nil || string(got) != string(data) {
		t.Errorf("LoadAll = %d bytes, %v, want %d bytes", len(got), err, len(data))
	}
	w.none(t)
	if c.Disabled() {
		t.Error("cache disabled")
	}
}

// makeRepoDirs creates n repository directories under base, the i-th last
// used i days ago, each with one 100-byte file.
func makeRepoDirs(t *testing.T, base string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%02d", i) + testRepoID[2:]
		dir := filepath.Join(base, id)
		if err := os.MkdirAll(filepath.Join(dir, "index"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "index", "f"), make([]byte, 100), 0o600); err != nil {
			t.Fatal(err)
		}
		age(t, dir, time.Duration(i)*24*time.Hour)
		ids = append(ids, id)
	}
	return ids
}

func TestListDirs(t *testing.T) {
	base := t.TempDir()
	ids := makeRepoDirs(t, base, 3)
	// Not repository directories.
	for _, p := range []string{"notarepo", ids[0] + ".removing-1", "restic-check-cache-1"} {
		if err := os.Mkdir(filepath.Join(base, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "CACHEDIR.TAG"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dirs, err := cache.ListDirs(base, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dirs {
		got = append(got, d.ID)
		if d.Size != 100 || d.Path != filepath.Join(base, d.ID) {
			t.Errorf("ListDirs: %+v, want size 100 and path in base", d)
		}
	}
	if want := []string{ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("ListDirs = %q, want %q (least recently used first)", got, want)
	}
	if dirs, _ := cache.ListDirs(base, false); len(dirs) != 3 || dirs[0].Size != -1 {
		t.Errorf("ListDirs without sizes = %+v, want 3 with size -1", dirs)
	}
	for i, d := range dirs {
		if want := i == 0; d.Old(36*time.Hour) != want {
			t.Errorf("%s (last used %v).Old(36h) = %v, want %v", d.ID[:4], d.LastUsed, !want, want)
		}
		if !d.Old(0) {
			t.Errorf("%s.Old(0) = false, want true", d.ID[:4])
		}
	}
	if dirs, err := cache.ListDirs(filepath.Join(base, "missing"), true); err != nil || dirs != nil {
		t.Errorf("ListDirs(missing base) = %v, %v, want nil, nil", dirs, err)
	}
}

func TestRemoveDir(t *testing.T) {
	base := t.TempDir()
	makeRepoDirs(t, base, 2)
	dirs, err := cache.ListDirs(base, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.RemoveDir(dirs[0]); err != nil {
		t.Fatalf("RemoveDir = %v", err)
	}
	if err := cache.RemoveDir(dirs[0]); err != nil {
		t.Errorf("RemoveDir of a vanished directory = %v, want nil", err)
	}
	entries, _ := os.ReadDir(base)
	if len(entries) != 1 || entries[0].Name() != dirs[1].ID {
		t.Errorf("left in base: %v, want only %s", entries, dirs[1].ID[:8])
	}
}

// TestRemoveDirConcurrent: many removers of the same directories (two
// `cache --cleanup` runs), and listers, at once: nobody fails, and all is
// gone, without "removing" leftovers.
func TestRemoveDirConcurrent(t *testing.T) {
	for round := range 5 {
		base := t.TempDir()
		makeRepoDirs(t, base, 20)
		dirs, err := cache.ListDirs(base, true)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				<-start
				for _, d := range dirs {
					if err := cache.RemoveDir(d); err != nil {
						t.Errorf("round %d: RemoveDir(%s) = %v", round, d.ID[:4], err)
					}
				}
			})
			wg.Go(func() {
				<-start
				for range 10 {
					if _, err := cache.ListDirs(base, true); err != nil {
						t.Errorf("round %d: ListDirs during removal = %v", round, err)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if entries, _ := os.ReadDir(base); len(entries) > 0 {
			t.Fatalf("round %d: left in base: %v", round, entries)
		}
	}
}

// TestRemoveDirWhileInUse: removing the directory of a cache in use (cache
// --cleanup --max-age 0 while a backup runs) leaves that cache working:
// it sets up its directories again on the next store, without a warning.
func TestRemoveDirWhileInUse(t *testing.T) {
	base := t.TempDir()
	c, w := openCache(t, base, cache.Options{})
	m := mem.New()
	be := c.Wrap(m)
	before, _ := put(t, be, backend.IndexFile, 1, 100)
	dirs, _ := cache.ListDirs(base, false)
	if len(dirs) != 1 {
		t.Fatalf("ListDirs = %v, want 1", dirs)
	}
	if err := cache.RemoveDir(dirs[0]); err != nil {
		t.Fatal(err)
	}
	// A cached file vanished: loaded from the backend and cached again.
	if got, err := backend.LoadAll(t.Context(), be, before); err != nil || hashName(got) != before.Name {
		t.Fatalf("LoadAll after RemoveDir = %v", err)
	}
	checkEntry(t, c, before)
	if err := os.RemoveAll(c.Dir); err != nil {
		t.Fatal(err)
	}
	idx, _ := put(t, be, backend.IndexFile, 2, 100)
	snap, _ := put(t, be, backend.SnapshotFile, 3, 100)
	pack, _ := put(t, m, backend.PackFile, 4, 1000)
	if err := be.Warm(context.Background(), pack); err != nil {
		t.Fatal(err)
	}
	for _, h := range []backend.Handle{idx, snap, pack} {
		checkEntry(t, c, h)
	}
	// The whole base, too.
	if err := os.RemoveAll(base); err != nil {
		t.Fatal(err)
	}
	idx2, _ := put(t, be, backend.IndexFile, 5, 100)
	checkEntry(t, c, idx2)
	w.none(t)
	if c.Disabled() {
		t.Error("cache disabled after its directory was removed")
	}
	// And the next Open completes the setup (version file, tag).
	openCache(t, base, cache.Options{})
	checkSetup(t, base)
}

// TestRemoveDirWhileWriting: processes writing into a repository
// directory while cleanups remove it. A write whose path lookup began
// before RemoveDir's rename lands in the renamed directory after
// RemoveAll has listed it; RemoveDir must still remove everything, and
// never fail.
func TestRemoveDirWhileWriting(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, testRepoID)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				sub := filepath.Join(dir, "snapshots", fmt.Sprintf("%02x", (w*7+i)%256))
				_ = os.MkdirAll(sub, 0o700)
				_ = os.WriteFile(filepath.Join(sub, fmt.Sprintf("tmp-%d-%d", w, i)), []byte("x"), 0o600)
			}
		})
	}
	failed, removed := 0, 0
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if !exists(t, dir) {
			continue
		}
		if err := cache.RemoveDir(cache.DirInfo{ID: testRepoID, Path: dir}); err != nil {
			failed++
			if failed <= 3 {
				t.Errorf("RemoveDir while others write = %v, want nil", err)
			}
		}
		removed++
	}
	close(done)
	wg.Wait()
	if failed > 0 {
		t.Errorf("%d of %d RemoveDir calls failed", failed, removed)
	}
	if m, _ := filepath.Glob(filepath.Join(base, "*.removing-*")); len(m) > 0 {
		t.Errorf("half-removed directories left: %q", m)
	}
}
