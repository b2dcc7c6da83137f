package testservers

import (
	"os"
	"testing"
)

var versitygw = &tool{
	name:   "versitygw-1.8.0",
	module: "versitygw",
	pkg:    "github.com/versity/versitygw/cmd/versitygw",
}

// S3 describes a running S3-compatible server. Buckets are directories
// under Dir.
type S3 struct {
	Endpoint  string // "http://127.0.0.1:port"
	Host      string // "127.0.0.1:port"
	AccessKey string
	SecretKey string
	Dir       string
	// Server is the server process, to read its log.
	Server interface{ Output() string }
}

// Versitygw starts versitygw 1.8.0 with its POSIX backend on a fresh
// temporary directory and a fixed root key pair, and stops it when t ends.
// args are further server flags, such as "--virtual-domain", "s3.test".
func Versitygw(t testing.TB, args ...string) *S3 {
	t.Helper()
	bin, err := versitygw.binary()
	if err != nil {
		unavailable(t, err)
	}
	addr := FreeAddr(t)
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const key, secret = "cairntestkey", "cairntestsecret123"
	flags := append([]string{"--port", addr, "--access", key, "--secret", secret}, args...)
	p := start(t, addr, bin, append(flags, "posix", dir)...)
	return &S3{Endpoint: "http://" + addr, Host: addr, AccessKey: key, SecretKey: secret, Dir: dir, Server: p}
}
