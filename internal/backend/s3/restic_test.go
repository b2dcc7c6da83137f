package s3_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/s3"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestRestic lets the restic binary create a repository and back up a
// small directory on versitygw, then reads it with the backend. It is
// skipped without restic, unless CI=true.
func TestRestic(t *testing.T) {
	exe := testservers.Restic(t)
	s := startServer(t)
	bucket := newBucket()
	for _, prefix := range []string{"", "/restic/repo"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			path := bucket + prefix
			src := t.TempDir()
			for name, data := range map[string]string{"a": "alpha", "sub/b": strings.Repeat("beta", 1000)} {
				p := filepath.Join(src, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			restic := func(args ...string) {
				t.Helper()
				args = append([]string{"-r", "s3:" + s.Endpoint + "/" + path, "-o", "s3.bucket-lookup=path",
					"--no-cache", "-q"}, args...)
				cmd := exec.Command(exe, args...)
				cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=x", "AWS_CA_BUNDLE=")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			restic("init")
			restic("backup", src)

			be, err := s3.Open(t.Context(), config(t, s, path))
			if err != nil {
				t.Fatalf("Open(%s) = %v, want nil", path, err)
			}
			defer func() { _ = be.Close() }()

			dir := filepath.Join(s.Dir, bucket, filepath.FromSlash(strings.TrimPrefix(prefix, "/")))
			onDisk := func(sub string) map[string]int64 {
				got := map[string]int64{}
				err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d os.DirEntry, err error) error {
					if err != nil || !d.Type().IsRegular() {
						return err
					}
					fi, err := d.Info()
					if err != nil {
						return err
					}
					got[d.Name()] = fi.Size()
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			listed := func(typ backend.FileType) map[string]int64 {
				got := map[string]int64{}
				err := be.List(t.Context(), typ, func(fi backend.FileInfo) error {
					got[fi.Name] = fi.Size
					return nil
				})
				if err != nil {
					t.Fatalf("List(%v) = %v, want nil", typ, err)
				}
				return got
			}

			keys := listed(backend.KeyFile)
			if len(keys) != 1 {
				t.Errorf("List(keys) = %v, want one key", keys)
			}
			for _, typ := range []backend.FileType{backend.KeyFile, backend.SnapshotFile, backend.IndexFile, backend.PackFile} {
				want := onDisk(typ.String())
				if diff := cmp.Diff(want, listed(typ)); diff != "" {
					t.Errorf("List(%v) mismatch with restic's objects (-want +got):\n%s", typ, diff)
				}
				if typ != backend.KeyFile && len(want) == 0 {
					t.Errorf("restic wrote no %v files", typ)
				}
				for name, size := range want {
					fi, err := be.Stat(t.Context(), backend.Handle{Type: typ, Name: name})
					if err != nil || fi.Size != size {
						t.Errorf("Stat(%v/%s) = %+v, %v, want size %d", typ, name, fi, err, size)
					}
				}
			}
			config, err := backend.LoadAll(t.Context(), be, backend.Handle{Type: backend.ConfigFile})
			if err != nil || len(config) == 0 {
				t.Errorf("LoadAll(config) = %d bytes, %v, want restic's config", len(config), err)
			}
			if want := onDisk("config")["config"]; int64(len(config)) != want {
				t.Errorf("LoadAll(config) = %d bytes, want %d", len(config), want)
			}
			_, err = backend.LoadAll(t.Context(), be, backend.Handle{Type: backend.LockFile, Name: strings.Repeat("0", 64)})
			if !errors.Is(err, backend.ErrNotExist) {
				t.Errorf("LoadAll(missing lock) = %v, want ErrNotExist", err)
			}
		})
	}
}
