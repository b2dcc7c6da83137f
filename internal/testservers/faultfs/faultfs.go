// Package faultfs mounts a FUSE loopback file system over a real
// directory and injects faults into the file operations that reach it:
// reads and writes that fail with EIO or ENOSPC (at once or after some
// bytes), short writes, failing fsyncs and slow reads or writes. Tests arm
// rules at run time, then run real processes against the mount and check
// that each rule fired.
//
// The mount asks the kernel to cache nothing (direct I/O, zero entry and
// attribute timeouts), so every read and write of a process reaches the
// rules. Only tests import this package.
package faultfs

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Op is the file operation a rule applies to.
type Op int

// The operations a rule can target.
const (
	Read Op = iota
	Write
	Fsync
)

func (o Op) String() string {
	switch o {
	case Read:
		return "read"
	case Write:
		return "write"
	default:
		return "fsync"
	}
}

// Rule describes one fault. A rule applies to the operations Op on the
// files whose path, relative to the mount, Match accepts.
type Rule struct {
	Op    Op
	Match func(rel string) bool
	// Err is the error returned (syscall.EIO, syscall.ENOSPC, ...); zero
	// with neither Short nor Delay set means EIO.
	Err syscall.Errno
	// After lets the first After bytes of each file through: only reads or
	// writes at or beyond that offset fail, and one that straddles it is
	// cut short at it.
	After int64
	// Short makes writes accept only about half of the bytes asked (the
	// writer is expected to write the rest); Err is ignored.
	Short bool
	// Delay holds every matching operation for this long before it runs
	// (and fails only if Err is also set).
	Delay time.Duration
}

// Glob returns a Match for the paths that path.Match(pattern, rel)
// accepts; "*" does not cross a "/".
func Glob(pattern string) func(string) bool {
	return func(rel string) bool {
		ok, _ := path.Match(pattern, rel)
		return ok
	}
}

// Armed is a rule in force.
type Armed struct {
	fs   *FS
	rule Rule

	mu    sync.Mutex
	hits  int                 // operations the rule changed
	paths map[string]struct{} // files it changed them on
}

// Hits reports how many operations the rule has failed, cut short or
// delayed.
func (a *Armed) Hits() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits
}

// Paths lists the files (relative to the mount) the rule has hit.
func (a *Armed) Paths() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for p := range a.paths {
		out = append(out, p)
	}
	return out
}

// Disarm takes the rule out of force; its counts stay readable.
func (a *Armed) Disarm() {
	a.fs.mu.Lock()
	defer a.fs.mu.Unlock()
	for i, r := range a.fs.rules {
		if r == a {
			a.fs.rules = append(a.fs.rules[:i:i], a.fs.rules[i+1:]...)
			return
		}
	}
}

func (a *Armed) hit(rel string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hits++
	if a.paths == nil {
		a.paths = make(map[string]struct{})
	}
	a.paths[rel] = struct{}{}
}

// FS is a mounted fault file system.
type FS struct {
	// Dir is the mount point: processes use paths under it.
	Dir string
	// Backing is the real directory under the mount; reading it directly
	// bypasses every rule.
	Backing string

	mu    sync.Mutex
	rules []*Armed // in force, oldest first; guarded by mu
}

// Mount mounts a fault file system over a new, empty temporary directory
// and unmounts it when t ends. A mount that fails fails the test: FUSE is
// a test dependency (scripts/install-test-deps.sh).
func Mount(t testing.TB) *FS {
	t.Helper()
	f := &FS{Dir: filepath.Join(t.TempDir(), "mnt"), Backing: filepath.Join(t.TempDir(), "backing")}
	for _, d := range []string{f.Dir, f.Backing} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(f.Backing, &st); err != nil {
		t.Fatal(err)
	}
	root := &fs.LoopbackRoot{Path: f.Backing, Dev: st.Dev}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fs: f}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	var zero time.Duration
	srv, err := fs.Mount(f.Dir, root.RootNode, &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:      "faultfs",
			Name:        "faultfs",
			DirectMount: true,
			// Let every process of the test (root or not) use the mount.
			AllowOther: os.Geteuid() == 0,
		},
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		NullPermissions: true,
	})
	if err != nil {
		t.Fatalf("mount fault file system (needs /dev/fuse and fuse3): %v", err)
	}
	t.Cleanup(func() {
		for range 50 {
			if srv.Unmount() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // a process may still hold a file
		}
		_ = syscall.Unmount(f.Dir, syscall.MNT_DETACH)
	})
	return f
}

// Arm puts r in force and returns it, to read its counts and disarm it.
func (f *FS) Arm(r Rule) *Armed {
	if r.Err == 0 && !r.Short && r.Delay == 0 {
		r.Err = syscall.EIO
	}
	a := &Armed{fs: f, rule: r}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, a)
	return a
}

// Path is the path of rel under the mount.
func (f *FS) Path(rel string) string { return filepath.Join(f.Dir, rel) }

// rulesFor returns the rules in force for op on rel.
func (f *FS) rulesFor(op Op, rel string) []*Armed {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*Armed
	for _, a := range f.rules {
		if a.rule.Op == op && a.rule.Match(rel) {
			out = append(out, a)
		}
	}
	return out
}

// node is a loopback node whose reads, writes and fsyncs pass the rules.
type node struct {
	fs.LoopbackNode
	fs *FS
}

var (
	_ fs.NodeOpener  = (*node)(nil)
	_ fs.NodeCreater = (*node)(nil)
	_ fs.NodeReader  = (*node)(nil)
	_ fs.NodeWriter  = (*node)(nil)
	_ fs.NodeFsyncer = (*node)(nil)
)

func (n *node) rel() string { return n.Path(n.Root()) }

// Open opens the file for direct I/O, so that the kernel's page cache
// neither answers reads nor gathers writes.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	return fh, fl | fuse.FOPEN_DIRECT_IO, errno
}

// Create is Open for a new file.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return in, fh, fl | fuse.FOPEN_DIRECT_IO, errno
}

// apply runs the rules for an operation of size bytes at off and returns
// how many bytes may pass (size if all) and the error for the rest.
func (n *node) apply(op Op, off int64, size int) (int, syscall.Errno) {
	rel := n.rel()
	allowed, errno := size, syscall.Errno(0)
	for _, a := range n.fs.rulesFor(op, rel) {
		r := a.rule
		if r.Delay > 0 {
			a.hit(rel)
			time.Sleep(r.Delay)
		}
		switch {
		case r.Short:
			if op == Write && size > 1 && allowed > size/2 {
				a.hit(rel)
				allowed = size / 2
			}
		case r.Err != 0:
			if off+int64(size) <= r.After && op != Fsync {
				continue
			}
			a.hit(rel)
			if ok := int(max(r.After-off, 0)); op != Fsync && ok > 0 {
				allowed = min(allowed, ok) // the bytes before After pass
				continue
			}
			allowed, errno = 0, r.Err
		}
	}
	return allowed, errno
}

// Read implements fs.NodeReader.
func (n *node) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	allowed, errno := n.apply(Read, off, len(dest))
	if errno != 0 {
		return nil, errno
	}
	r, ok := fh.(fs.FileReader)
	if !ok {
		return nil, syscall.EBADF
	}
	return r.Read(ctx, dest[:allowed], off)
}

// Write implements fs.NodeWriter.
func (n *node) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	allowed, errno := n.apply(Write, off, len(data))
	if errno != 0 {
		return 0, errno
	}
	w, ok := fh.(fs.FileWriter)
	if !ok {
		return 0, syscall.EBADF
	}
	return w.Write(ctx, data[:allowed], off)
}

// Fsync implements fs.NodeFsyncer.
func (n *node) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	if _, errno := n.apply(Fsync, 0, 0); errno != 0 {
		return errno
	}
	if s, ok := fh.(fs.FileFsyncer); ok {
		return s.Fsync(ctx, flags)
	}
	return 0
}
