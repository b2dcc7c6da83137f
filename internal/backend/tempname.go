package backend

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Temporary files that backends write before renaming them into place
// say who writes them. Their names end in
//
//	<marker><host8>-<pid>-<random>
//
// where marker is the backend's own ("-tmp-" on a local disk), host8 the
// first 8 hex digits of the SHA-256 of the writer's hostname and pid its
// process ID, so that a sweeper on the same host can tell that the writer
// is gone and remove the file at once. Older names and names from other
// hosts carry no such promise and are swept by age only.

// hostTag is host8 for this host.
var hostTag = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	sum := sha256.Sum256([]byte(h))
	return hex.EncodeToString(sum[:4])
})

// TempWriterTag is "<host8>-<pid>", the part of a temporary name that
// names this process.
func TempWriterTag() string { return hostTag() + "-" + strconv.Itoa(os.Getpid()) }

// TempName returns a new temporary name for base with the backend's
// marker.
func TempName(base, marker string) string {
	var r [8]byte
	_, _ = rand.Read(r[:]) // never fails
	return base + marker + TempWriterTag() + "-" + hex.EncodeToString(r[:])
}

// TempWriter parses the writer out of a temporary file name with the
// given marker. ok is false for names in an older or unknown format.
func TempWriter(name, marker string) (host string, pid int, ok bool) {
	i := strings.LastIndex(name, marker)
	if i < 0 {
		return "", 0, false
	}
	parts := strings.Split(name[i+len(marker):], "-")
	if len(parts) != 3 || len(parts[0]) != 8 || parts[2] == "" {
		return "", 0, false
	}
	if _, err := hex.DecodeString(parts[0]); err != nil {
		return "", 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 || strconv.Itoa(pid) != parts[1] {
		return "", 0, false
	}
	return parts[0], pid, true
}

// TempWriterGone reports whether the temporary file name was written by a
// process of this host that no longer exists (kill(pid, 0) fails with
// ESRCH). A process of another user (EPERM) is alive; a name of another
// host or without a writer is never known gone.
func TempWriterGone(name, marker string) bool {
	host, pid, ok := TempWriter(name, marker)
	if !ok || host != hostTag() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
