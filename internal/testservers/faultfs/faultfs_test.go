package faultfs_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/testservers/faultfs"
)

// data is n bytes of a repeating, non-uniform pattern.
func data(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestRules drives every kind of rule through the kernel with plain os
// calls on the mount and checks what the caller saw, what reached the
// backing directory and that the rule counted its hits.
func TestRules(t *testing.T) {
	f := faultfs.Mount(t)
	content := data(1 << 20)
	if err := os.WriteFile(filepath.Join(f.Backing, "src"), content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.Backing, "other"), content, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("no rule", func(t *testing.T) {
		got, err := os.ReadFile(f.Path("src"))
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("read through the mount: %d bytes, %v; want %d bytes", len(got), err, len(content))
		}
		if err := os.WriteFile(f.Path("new"), content, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(f.Backing, "new")); !bytes.Equal(got, content) {
			t.Fatalf("backing file has %d bytes, want %d", len(got), len(content))
		}
	})

	t.Run("read EIO at once", func(t *testing.T) {
		a := f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("src")})
		defer a.Disarm()
		_, err := os.ReadFile(f.Path("src"))
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("read = %v, want EIO", err)
		}
		if got, err := os.ReadFile(f.Path("other")); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("a file the rule does not match: %d bytes, %v", len(got), err)
		}
		if a.Hits() == 0 || len(a.Paths()) != 1 || a.Paths()[0] != "src" {
			t.Fatalf("hits %d on %v, want some on [src]", a.Hits(), a.Paths())
		}
	})

	t.Run("read EIO after N bytes", func(t *testing.T) {
		const after = 300000
		a := f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("src"), After: after})
		defer a.Disarm()
		fd, err := os.Open(f.Path("src"))
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		got, err := io.ReadAll(fd)
		if !errors.Is(err, syscall.EIO) || !bytes.Equal(got, content[:after]) {
			t.Fatalf("read %d bytes then %v, want %d then EIO", len(got), err, after)
		}
		if a.Hits() == 0 {
			t.Fatal("no hit counted")
		}
	})

	t.Run("write EIO after N bytes", func(t *testing.T) {
		const after = 200000
		a := f.Arm(faultfs.Rule{Op: faultfs.Write, Match: faultfs.Glob("w*"), After: after})
		defer a.Disarm()
		err := os.WriteFile(f.Path("w1"), content, 0o600)
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("write = %v, want EIO", err)
		}
		if got, _ := os.ReadFile(filepath.Join(f.Backing, "w1")); !bytes.Equal(got, content[:after]) {
			t.Fatalf("backing file has %d bytes, want the first %d", len(got), after)
		}
		if a.Hits() == 0 {
			t.Fatal("no hit counted")
		}
	})

	t.Run("write ENOSPC", func(t *testing.T) {
		a := f.Arm(faultfs.Rule{Op: faultfs.Write, Match: faultfs.Glob("dir/*"), Err: syscall.ENOSPC})
		defer a.Disarm()
		if err := os.Mkdir(f.Path("dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		err := os.WriteFile(f.Path("dir/x"), content, 0o600)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("write = %v, want ENOSPC", err)
		}
		if a.Hits() == 0 {
			t.Fatal("no hit counted")
		}
	})

	t.Run("short writes", func(t *testing.T) {
		a := f.Arm(faultfs.Rule{Op: faultfs.Write, Match: faultfs.Glob("short"), Short: true})
		defer a.Disarm()
		fd, err := os.Create(f.Path("short"))
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		// One raw write system call sees the short count.
		n, err := syscall.Write(int(fd.Fd()), content[:1000])
		if err != nil || n != 500 {
			t.Fatalf("write(1000 bytes) = %d, %v; want 500", n, err)
		}
		// os.File.Write loops until everything is written.
		if _, err := fd.Write(content[n:]); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(f.Backing, "short")); !bytes.Equal(got, content) {
			t.Fatalf("backing file has %d bytes, want %d", len(got), len(content))
		}
		if a.Hits() < 2 {
			t.Fatalf("%d hits, want at least 2", a.Hits())
		}
	})

	t.Run("fsync", func(t *testing.T) {
		a := f.Arm(faultfs.Rule{Op: faultfs.Fsync, Match: faultfs.Glob("synced")})
		defer a.Disarm()
		fd, err := os.Create(f.Path("synced"))
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		if _, err := fd.Write(content[:10]); err != nil {
			t.Fatal(err)
		}
		if err := fd.Sync(); !errors.Is(err, syscall.EIO) {
			t.Fatalf("fsync = %v, want EIO", err)
		}
		if a.Hits() != 1 {
			t.Fatalf("%d hits, want 1", a.Hits())
		}
	})

	t.Run("slow", func(t *testing.T) {
		const delay = 50 * time.Millisecond
		a := f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("src"), Delay: delay})
		defer a.Disarm()
		fd, err := os.Open(f.Path("src"))
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		buf := make([]byte, 4096)
		start := time.Now()
		for range 3 {
			if _, err := fd.Read(buf); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took < 3*delay {
			t.Fatalf("3 reads took %v, want at least %v", took, 3*delay)
		}
		if a.Hits() != 3 {
			t.Fatalf("%d hits, want 3", a.Hits())
		}
	})

	t.Run("disarmed", func(t *testing.T) {
		a := f.Arm(faultfs.Rule{Op: faultfs.Read, Match: faultfs.Glob("src")})
		a.Disarm()
		if got, err := os.ReadFile(f.Path("src")); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("read after disarming: %d bytes, %v", len(got), err)
		}
		if a.Hits() != 0 {
			t.Fatalf("%d hits of a disarmed rule", a.Hits())
		}
	})
}
