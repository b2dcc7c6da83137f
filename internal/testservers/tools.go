package testservers

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// FUSE returns when this machine can mount FUSE file systems (/dev/fuse,
// and fusermount3 from Debian's fuse3 unless the test runs as root); if
// not, it skips t, or fails it under CI=true.
func FUSE(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		unavailable(t, errors.New("no /dev/fuse: FUSE is not available"))
	}
	if _, err := exec.LookPath("fusermount3"); err != nil && os.Geteuid() != 0 {
		unavailable(t, errors.New("fusermount3 not found (Debian package fuse3)"))
	}
}

// Chromium returns the path of a Chromium binary ($CHROMIUM_BIN, or
// chromium on the PATH, from Debian's package chromium); if there is none
// it skips t, or fails it under CI=true.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_BIN"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(t, errors.New("chromium not found (Debian package chromium)"))
	return ""
}

// Rclone returns the path of rclone (Debian's package rclone); if there is
// none it skips t, or fails it under CI=true.
func Rclone(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("rclone")
	if err != nil {
		unavailable(t, errors.New("rclone not found (Debian package rclone)"))
	}
	return p
}
