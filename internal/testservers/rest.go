package testservers

import "testing"

var restServer = &tool{
	name:   "rest-server-0.14.0",
	module: "servers",
	pkg:    "github.com/restic/rest-server/cmd/rest-server",
}

// RestServer starts restic's rest-server 0.14.0 serving a fresh temporary
// directory, with the extra args (for example "--no-auth" or
// "--append-only"), and returns its base URL, "http://127.0.0.1:port". It
// is stopped when t ends.
func RestServer(t testing.TB, args ...string) string {
	t.Helper()
	return startRestServer(t, "http://", args)
}

// RestServerTLS is RestServer serving HTTPS with the certificate in f; the
// URL it returns is "https://127.0.0.1:port".
func RestServerTLS(t testing.TB, f TLSFiles, args ...string) string {
	t.Helper()
	return startRestServer(t, "https://", append([]string{"--tls", "--tls-cert", f.Cert, "--tls-key", f.Key}, args...))
}

func startRestServer(t testing.TB, scheme string, args []string) string {
	t.Helper()
	bin, err := restServer.binary()
	if err != nil {
		unavailable(t, err)
	}
	addr := FreeAddr(t)
	start(t, addr, bin, append([]string{"--listen", addr, "--path", t.TempDir()}, args...)...)
	return scheme + addr
}
