package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// startMount runs `cairn mount` on a new directory and waits until the
// mount answers. The mount is ended by SIGTERM when the test ends, if it
// was not before.
func startMount(t *testing.T, env []string, args ...string) (string, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	cmd := exec.Command(cairnBin, append(append([]string{"mount"}, args...), mnt)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC",
		"RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache")}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
		if mounted(t, mnt) {
			_ = syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !mounted(t, mnt) {
		if time.Now().After(deadline) {
			t.Fatalf("mount did not appear:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return mnt, cmd, &out
}

// mounted reports whether dir is a mount point, from /proc/self/mountinfo.
func mounted(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

// stopMount ends a mount with SIGTERM and checks that it leaves nothing
// behind: the process exits 0 and the mount is gone.
func stopMount(t *testing.T, mnt string, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("mount exited with %v:\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("mount did not end on SIGTERM:\n%s", out.String())
	}
	if mounted(t, mnt) {
		t.Fatalf("%s is still mounted after the mount process ended", mnt)
	}
	if err := syscall.Kill(cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("mount process %d still exists: %v", cmd.Process.Pid, err)
	}
}

// TestMountBothTools mounts a repository written by restic and one written
// by cairn, compares every file of a snapshot with its source through the
// mount, reads a large file at random offsets, sees a snapshot made after
// mounting appear, and unmounts on SIGTERM leaving nothing behind.
func TestMountBothTools(t *testing.T) {
	testservers.FUSE(t)
	src := filepath.Join(t.TempDir(), "src")
	makeSampleTree(t, src)
	rng := rand.New(rand.NewPCG(16, 1))
	large := make([]byte, 24<<20+4321)
	for i := range large {
		large[i] = byte(rng.Uint32())
	}
	// Set before the sample's mtimes matter: written into a new
	// directory, which makeSampleTree's walk does not know about.
	largeDir := filepath.Join(t.TempDir(), "large")
	writeFile(t, largeDir, "large.bin", string(large))

	for _, tool := range []string{"restic", "cairn"} {
		t.Run(tool, func(t *testing.T) {
			env := repoEnv(filepath.Join(t.TempDir(), "repo"), "mount-pw")
			if tool == "restic" {
				resticInit(t, env)
				restic(t, env, "backup", "-q", src, largeDir)
			} else {
				cairn(t, env, "init")
				cairn(t, env, "backup", "-q", src, largeDir)
			}
			ids := snapshotIDs(t, env)
			mnt, cmd, out := startMount(t, env)

			snapDir := filepath.Join(mnt, "ids", ids[0][:8])
			compareTrees(t, src, filepath.Join(snapDir, src))

			// Random reads of the large file, at any offset and length.
			f, err := os.Open(filepath.Join(snapDir, largeDir, "large.bin"))
			must(t, err)
			buf := make([]byte, 3<<20)
			for range 200 {
				off := rng.Int64N(int64(len(large)))
				n := 1 + rng.IntN(len(buf))
				got, err := f.ReadAt(buf[:n], off)
				if err != nil && !(errors.Is(err, io.EOF) && off+int64(n) > int64(len(large))) {
					t.Fatalf("read %d at %d: %v", n, off, err)
				}
				want := large[off:min(off+int64(n), int64(len(large)))]
				if !bytes.Equal(buf[:got], want) {
					t.Fatalf("read %d bytes at %d: content differs from the source", n, off)
				}
			}
			must(t, f.Close())

			// The layout: restic's directories and latest links.
			for _, p := range []string{"snapshots/latest", "hosts", "ids/" + ids[0][:8]} {
				if _, err := os.Lstat(filepath.Join(mnt, p)); err != nil {
					t.Errorf("layout: %v", err)
				}
			}
			if target, err := os.Readlink(filepath.Join(mnt, "snapshots", "latest")); err != nil || target == "" {
				t.Errorf("snapshots/latest: %q, %v", target, err)
			}

			// A snapshot made while mounted appears without a remount.
			writeFile(t, src, "added-later.txt", "new file")
			cairn(t, env, "backup", "-q", src)
			ids = snapshotIDs(t, env)
			newDir := filepath.Join(mnt, "ids", ids[len(ids)-1][:8])
			deadline := time.Now().Add(15 * time.Second)
			for {
				b, err := os.ReadFile(filepath.Join(newDir, src, "added-later.txt"))
				if err == nil && string(b) == "new file" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("new snapshot did not appear in the mount: %v\n%s", err, out.String())
				}
				time.Sleep(200 * time.Millisecond)
			}
			must(t, os.Remove(filepath.Join(src, "added-later.txt")))

			// Read-only.
			if err := os.WriteFile(filepath.Join(snapDir, src, "small.txt"), []byte("x"), 0o600); err == nil {
				t.Error("writing into the mount succeeded")
			}
			stopMount(t, mnt, cmd, out)
			if strings.Contains(out.String(), "warning") {
				t.Errorf("mount warned:\n%s", out.String())
			}
		})
	}
}
