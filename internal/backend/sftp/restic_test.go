package sftp_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// resticCmd returns a function running restic on the repository at dir
// through s, failing the test when restic fails.
func resticCmd(t *testing.T, s *testservers.SFTP) func(dir string, args ...string) string {
	t.Helper()
	bin := testservers.Restic(t)
	cache := t.TempDir()
	return func(dir string, args ...string) string {
		t.Helper()
		all := append([]string{"-o", "sftp.command=" + s.SSHCommand(), "-r", fmt.Sprintf("sftp:%s@%s:%s", s.User, s.Host, dir)}, args...)
		cmd := exec.Command(bin, all...)
		cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=x", "RESTIC_CACHE_DIR="+cache)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}

// TestResticInterop checks that a repository restic made is one we read,
// and that the layout we make is one restic uses.
func TestResticInterop(t *testing.T) {
	s := startSSHD(t)
	restic := resticCmd(t, s)
	ctx := t.Context()

	theirs := nativeConfig(s)
	restic(theirs.Path, "init")
	be, err := sftp.Open(ctx, theirs)
	if err != nil {
		t.Fatalf("Open(restic's repository) = %v, want nil", err)
	}
	defer be.Close()
	var keys []string
	if err := be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		keys = append(keys, fi.Name)
		return nil
	}); err != nil || len(keys) != 1 {
		t.Fatalf("List(keys) of restic's repository = %q, %v, want one key, nil", keys, err)
	}
	config, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.ConfigFile})
	if err != nil {
		t.Fatalf("LoadAll(config) of restic's repository = %v, want nil", err)
	}
	key, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.KeyFile, Name: keys[0]})
	if err != nil {
		t.Fatalf("LoadAll(key) of restic's repository = %v, want nil", err)
	}

	// Our layout with restic's config and key is a repository restic can
	// back up to and check.
	ours := nativeConfig(s)
	be2 := create(t, ours)
	defer be2.Close()
	for h, data := range map[backend.Handle][]byte{
		{Type: backend.ConfigFile}:             config,
		{Type: backend.KeyFile, Name: keys[0]}: key,
	} {
		if err := be2.Save(ctx, h, backend.NewByteReader(data)); err != nil {
			t.Fatalf("Save(%v) = %v, want nil", h, err)
		}
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("hello from restic"), 0o600); err != nil {
		t.Fatal(err)
	}
	restic(ours.Path, "backup", "--host", "test", src)
	restic(ours.Path, "check", "--read-data")

	count := func(typ backend.FileType) int {
		n := 0
		if err := be2.List(ctx, typ, func(backend.FileInfo) error { n++; return nil }); err != nil {
			t.Fatalf("List(%v) = %v, want nil", typ, err)
		}
		return n
	}
	if n := count(backend.SnapshotFile); n != 1 {
		t.Errorf("List(snapshots) after restic backup = %d files, want 1", n)
	}
	if n := count(backend.PackFile); n == 0 {
		t.Errorf("List(data) after restic backup = no files, want restic's packs")
	}
	if n := count(backend.LockFile); n != 0 {
		t.Errorf("List(locks) after restic finished = %d files, want 0", n)
	}
}
