package archiver_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
)

// treeCounter is an archiver.Repo that counts the trees handed to SaveBlob.
type treeCounter struct {
	*repository.Repository
	mu    sync.Mutex
	trees int // guarded by mu
}

func (c *treeCounter) SaveBlob(ctx context.Context, t blob.Type, buf []byte, bid id.ID) (id.ID, bool, int, error) {
	if t == blob.Tree {
		c.mu.Lock()
		c.trees++
		c.mu.Unlock()
	}
	return c.Repository.SaveBlob(ctx, t, buf, bid)
}

func (c *treeCounter) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.trees
	c.trees = 0
	return n
}

// TestParentTreeReuse checks that a backup with a parent gives the tree
// IDs a backup without one gives (every tree encoded and hashed), while
// handing the repository only the trees that differ from the parent's:
// the others are the parent's own blobs.
func TestParentTreeReuse(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	for _, p := range []string{"a/b/c/deep.txt", "a/b/side.txt", "a/top.txt", "d/e/f.txt", "g/h.txt", "root.txt"} {
		put(t, filepath.Join(src, p), p)
	}
	r := newRepo(t)
	c := &treeCounter{Repository: r}
	// Directories: /, the path to src (its components), src, a, a/b,
	// a/b/c, d, d/e, g.
	// A relative target keeps the directories above src (such as /tmp,
	// which others change at any time) out of the snapshot: the trees are
	// the root's, src's and the six below.
	t.Chdir(base)
	const depth = 2 // trees from the root to src, both included
	const allDirs = depth + 6

	parent, _ := run(t, c, archiver.Options{NoScan: true}, []string{"src"}, nil)
	if n := c.take(); n != allDirs {
		t.Fatalf("first backup saved %d trees, want %d", n, allDirs)
	}
	flush(t, r)

	outer := t
	past := time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T)
		saved  int // trees handed to SaveBlob: the changed directories and those above
	}{
		{"unchanged", func(*testing.T) {}, 0},
		{"nested file changed", func(t *testing.T) {
			put(t, filepath.Join(src, "a/b/c/deep.txt"), "new content")
		}, depth + 3}, // a/b/c, a/b, a, src and the root
		{"entry added", func(t *testing.T) { put(t, filepath.Join(src, "d/e/new.txt"), "new") }, depth + 2},
		{"entry removed", func(t *testing.T) {
			if err := os.Remove(filepath.Join(src, "g/h.txt")); err != nil {
				t.Fatal(err)
			}
		}, depth + 1},
		{"mode changed", func(t *testing.T) {
			if err := os.Chmod(filepath.Join(src, "a/top.txt"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, depth + 1},
		{"directory mtime changed", func(t *testing.T) {
			if err := os.Chtimes(filepath.Join(src, "d"), past, past); err != nil {
				t.Fatal(err)
			}
		}, depth}, // d's own tree is the same; its node in src's tree is not
		{"xattr changed", func(t *testing.T) {
			if err := syscall.Setxattr(filepath.Join(src, "a/b/side.txt"), "user.cairn", []byte("v"), 0); err != nil {
				t.Fatalf("setting a user xattr: %v", err)
			}
		}, depth + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.change(t)
			withParent, _ := run(t, c, archiver.Options{NoScan: true}, []string{"src"}, &parent)
			if n := c.take(); n != tc.saved {
				t.Errorf("backup with parent saved %d trees, want %d", n, tc.saved)
			}
			full, _ := run(t, c, archiver.Options{NoScan: true, Force: true}, []string{"src"}, nil)
			c.take()
			if withParent != full {
				t.Fatalf("root with parent %v, without %v", withParent.Str(), full.Str())
			}
			flush(outer, r) // the write session must outlive the subtest's context
			parent = withParent
		})
	}
}

// put writes a file, making its directories.
func put(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestParentTreeOtherBytes: a parent tree that decodes to the same nodes
// but was written with other bytes (another writer's layout) is not taken
// over: the tree is saved as cairn encodes it, as without parent.
func TestParentTreeOtherBytes(t *testing.T) {
	base := t.TempDir()
	put(t, filepath.Join(base, "src/d/f.txt"), "f")
	t.Chdir(base)
	r := newRepo(t)
	c := &treeCounter{Repository: r}
	root, _ := run(t, c, archiver.Options{NoScan: true}, []string{"src"}, nil)
	flush(t, r)
	raw, err := r.LoadBlob(t.Context(), blob.Handle{ID: root, Type: blob.Tree})
	if err != nil {
		t.Fatal(err)
	}
	// The same JSON with a space: the same nodes, another blob.
	other := append([]byte("{ "), raw[1:]...)
	otherID, _, _, err := r.SaveBlob(t.Context(), blob.Tree, other, id.ID{})
	if err != nil {
		t.Fatal(err)
	}
	flush(t, r)
	c.take()
	got, _ := run(t, c, archiver.Options{NoScan: true}, []string{"src"}, &otherID)
	if got != root {
		t.Errorf("root with the re-spaced parent %v, want %v", got.Str(), root.Str())
	}
	if n := c.take(); n != 1 {
		t.Errorf("saved %d trees, want 1 (the root; src and d are the parent's)", n)
	}
}
