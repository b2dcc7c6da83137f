package testservers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// AzuriteVersion is the pinned version of Microsoft's Azure Storage
// emulator from npm: the newest 3.x that runs on Node 20 (3.36.0 and
// later want Node 21 or 22). scripts/install-test-deps.sh installs it.
const AzuriteVersion = "3.35.0"

// The well-known development account every Azurite accepts (published in
// Azurite's README; it is no secret).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// AzuriteServer describes a running Azurite blob service.
type AzuriteServer struct {
	// Endpoint is the blob service URL of the dev account,
	// "http://127.0.0.1:port/devstoreaccount1".
	Endpoint string
	// Host is "127.0.0.1:port".
	Host string
	// Account and Key are the dev account's name and shared key.
	Account, Key string
	// Dir is Azurite's data directory.
	Dir string

	t    testing.TB
	bin  string
	args []string
	proc *process
}

// azuriteBin returns the path of azurite-blob as install-test-deps.sh
// installs it: $AZURITE_BLOB_BIN, else the npm prefix
// os.TempDir()/cairn-azurite-<version>.
func azuriteBin() (string, error) {
	if p := os.Getenv("AZURITE_BLOB_BIN"); p != "" {
		return p, nil
	}
	p := filepath.Join(os.TempDir(), "cairn-azurite-"+AzuriteVersion, "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("azurite %s not installed (run scripts/install-test-deps.sh): %w", AzuriteVersion, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", errors.New("node not found (Debian package nodejs), needed by azurite")
	}
	return p, nil
}

// Azurite starts Azurite's blob service on a free loopback port with a
// fresh data directory, and stops it when t ends. args are further
// azurite-blob flags, such as "--cert", file.
func Azurite(t testing.TB, args ...string) *AzuriteServer {
	t.Helper()
	return startAzurite(t, FreeAddr(t), args)
}

// AzuriteEmulatorAddr is the address of the storage emulator that Azure
// SDKs assume for the dev account: the legacy SDK in restic 0.14 sends
// every request for devstoreaccount1 there, whatever the key says.
const AzuriteEmulatorAddr = "127.0.0.1:10000"

// AzuriteOnEmulatorPort is Azurite on AzuriteEmulatorAddr. If that port
// is taken, it skips t, or fails it under CI=true.
func AzuriteOnEmulatorPort(t testing.TB, args ...string) *AzuriteServer {
	t.Helper()
	l, err := net.Listen("tcp", AzuriteEmulatorAddr)
	if err != nil {
		unavailable(t, fmt.Errorf("the storage emulator port is taken: %w", err))
	}
	_ = l.Close()
	return startAzurite(t, AzuriteEmulatorAddr, args)
}

func startAzurite(t testing.TB, addr string, args []string) *AzuriteServer {
	t.Helper()
	bin, err := azuriteBin()
	if err != nil {
		unavailable(t, err)
	}
	a := &AzuriteServer{
		Endpoint: "http://" + addr + "/" + AzuriteAccount,
		Host:     addr,
		Account:  AzuriteAccount,
		Key:      AzuriteKey,
		Dir:      t.TempDir(),
		t:        t,
		bin:      bin,
	}
	_, port, _ := net.SplitHostPort(addr)
	a.args = append([]string{
		"--blobHost", "127.0.0.1", "--blobPort", port, "--location", a.Dir,
		"--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent",
	}, args...)
	a.proc = start(t, addr, bin, a.args...)
	return a
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for
// it; its data stays in Dir.
func (a *AzuriteServer) Stop() {
	a.t.Helper()
	p := a.proc.cmd.Process
	_ = p.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = a.proc.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.Kill()
		<-done
	}
}

// Restart starts the server again on the same port and data directory,
// after Stop.
func (a *AzuriteServer) Restart() {
	a.t.Helper()
	a.proc = start(a.t, a.Host, a.bin, a.args...)
}

// Output returns what the running server printed so far.
func (a *AzuriteServer) Output() string { return a.proc.Output() }
