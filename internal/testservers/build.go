package testservers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// unavailable skips t, or fails it under CI=true, because a server is
// missing.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// moduleRoot returns the directory of cairn's main go.mod, found by walking
// up from the working directory (a test runs in its package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/cairn-backup/cairn\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no cairn go.mod above the working directory")
		}
		dir = parent
	}
}

// tool is a server binary built from a pinned tools module.
type tool struct {
	name   string // binary name with version, e.g. "rest-server-0.14.0"
	module string // tools module directory under tools/
	pkg    string // package to build
	once   sync.Once
	path   string
	err    error
}

// binary returns the path of the tool's binary, building it on first use.
// The binary is cached across test runs as os.TempDir()/cairn-<name>.
func (tl *tool) binary() (string, error) {
	tl.once.Do(func() {
		tl.path = filepath.Join(os.TempDir(), "cairn-"+tl.name)
		if fi, err := os.Stat(tl.path); err == nil && fi.Mode().IsRegular() {
			return
		}
		root, err := moduleRoot()
		if err != nil {
			tl.err = err
			return
		}
		// Several test binaries may build at once: each builds to its own
		// temporary name and renames, so the cache never holds a partial
		// binary.
		tmp := fmt.Sprintf("%s.tmp%d", tl.path, os.Getpid())
		cmd := exec.Command("go", "build", "-o", tmp, tl.pkg)
		cmd.Dir = filepath.Join(root, "tools", tl.module)
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			tl.err = fmt.Errorf("go build %s: %v\n%s", tl.pkg, err, out)
			return
		}
		tl.err = os.Rename(tmp, tl.path)
	})
	return tl.path, tl.err
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// process is a running server.
type process struct {
	cmd *exec.Cmd
	out *syncWriter
}

// Output returns what the server printed so far.
func (p *process) Output() string { return p.out.String() }

// start runs bin with args, stops it when t ends, and waits until addr
// accepts TCP connections.
func start(t testing.TB, addr, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out := &syncWriter{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", filepath.Base(bin), err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	p := &process{cmd: cmd, out: out}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s: %v\n%s", filepath.Base(bin), addr, err, strings.TrimSpace(out.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncWriter serialises writes of a server's stdout and stderr.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
