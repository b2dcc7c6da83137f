package testservers

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

var fakeGCSServer = &tool{
	name:   "fake-gcs-server-1.56.1",
	module: "gcs",
	pkg:    "github.com/fsouza/fake-gcs-server",
}

// GCS describes a running fake-gcs-server, an emulator of Google Cloud
// Storage's JSON API. Clients reach it with STORAGE_EMULATOR_HOST set to
// Endpoint; it checks no credentials.
type GCS struct {
	Endpoint string // "http://127.0.0.1:port"
	Host     string // "127.0.0.1:port"
	// Dir holds the buckets, one directory each.
	Dir string

	t    testing.TB
	bin  string
	args []string
	mu   sync.Mutex // guards proc
	proc *process
}

// FakeGCS starts fake-gcs-server 1.56.1 over plain HTTP with its
// filesystem backend on a fresh temporary directory, and stops it when t
// ends.
func FakeGCS(t testing.TB) *GCS {
	t.Helper()
	bin, err := fakeGCSServer.binary()
	if err != nil {
		unavailable(t, err)
	}
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	g := &GCS{Endpoint: "http://" + addr, Host: addr, Dir: t.TempDir(), t: t, bin: bin}
	g.args = []string{
		"-scheme", "http", "-host", "127.0.0.1", "-port", port,
		"-backend", "filesystem", "-filesystem-root", g.Dir,
		"-public-host", addr, "-external-url", g.Endpoint,
		"-log-level", "info",
	}
	g.Start()
	return g
}

// Stop kills the server and waits until it is gone; Start runs it again.
func (g *GCS) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc == nil {
		return
	}
	_ = g.proc.cmd.Process.Kill()
	_ = g.proc.cmd.Wait()
	g.proc = nil
}

// Start runs a stopped server again, on the same port and directory, and
// waits until it listens. Like t.Fatal, it must be called from the test's
// goroutine.
func (g *GCS) Start() {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc != nil {
		return
	}
	dropCutUploads(g.Dir)
	g.proc = start(g.t, g.Host, g.bin, g.args...)
}

// Output returns what the server printed since it was last started.
func (g *GCS) Output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc == nil {
		return ""
	}
	return g.proc.Output()
}

// dropCutUploads removes the object files that a killed fake-gcs-server
// left without their metadata (the user.metadata attribute or the
// ".metadata" file it writes after the content): an upload the kill cut
// off. Real Cloud Storage never shows such an object; the emulator fails
// every listing of the bucket over one (with a 404), which is not what
// the restart tests are about.
func dropCutUploads(root string) {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".metadata") {
			return nil
		}
		if _, err := os.Stat(p + ".metadata"); err == nil {
			return nil
		}
		if _, err := unix.Getxattr(p, "user.metadata", nil); err == nil {
			return nil
		}
		_ = os.Remove(p)
		return nil
	})
}
