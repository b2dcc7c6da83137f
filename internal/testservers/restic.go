package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Restic returns the restic binary interop tests run: $RESTIC_BIN when set,
// else restic on the PATH (Debian's, which make test installs). Without
// one it skips t, or fails it under CI=true.
func Restic(t testing.TB) string {
	t.Helper()
	bin, err := resticPath()
	if err != nil {
		unavailable(t, err)
	}
	return bin
}

// ResticOrEmpty is Restic for tests that have a part without restic: it
// returns "" instead of skipping, and still fails under CI=true.
func ResticOrEmpty(t testing.TB) string {
	t.Helper()
	bin, err := resticPath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		return ""
	}
	return bin
}

func resticPath() (string, error) {
	if bin := os.Getenv("RESTIC_BIN"); bin != "" {
		return bin, nil
	}
	bin, err := exec.LookPath("restic")
	if err != nil {
		return "", fmt.Errorf("restic is not installed (Debian package restic; make test installs it): %w", err)
	}
	return bin, nil
}
