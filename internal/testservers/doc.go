// Package testservers starts real backend servers (rest-server, OpenSSH's
// sshd, versitygw) on loopback for tests. Each server binary is built once
// from a pinned tools module, or taken from the system, and cached in
// os.TempDir(). A server that cannot be had skips the test, except under
// CI=true, where it fails it: CI must test every backend.
//
// Only tests import this package.
package testservers
