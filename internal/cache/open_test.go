package cache_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/cache"
)

// checkSetup fails the test unless base holds a complete cache setup for
// testRepoID: a whole CACHEDIR.TAG, version "1", the three type
// directories, and no temporary files.
func checkSetup(t *testing.T, base string) {
	t.Helper()
	tag, err := os.ReadFile(filepath.Join(base, cache.TagName))
	if err != nil {
		t.Fatalf("tag: %v", err)
	}
	const sig = "Signature: 8a477f597d28d172789f06886806bc55\n"
	if !strings.HasPrefix(string(tag), sig) || !strings.HasSuffix(string(tag), "\n") || strings.Count(string(tag), "\n") != 3 {
		t.Errorf("%s = %q, want the signature line and two comment lines", cache.TagName, tag)
	}
	dir := filepath.Join(base, testRepoID)
	v, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil || string(v) != "1" {
		t.Errorf("version file = %q, %v, want \"1\"", v, err)
	}
	for _, sub := range []string{"data", "index", "snapshots"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v, want a directory", sub, err)
		}
	}
	if j := junk(t, base); len(j) > 0 {
		t.Errorf("temporary files left in %s: %q", base, j)
	}
}

// TestOpenConcurrent: 16 goroutines open the same fresh cache at once.
func TestOpenConcurrent(t *testing.T) {
	for round := range 20 {
		base := filepath.Join(t.TempDir(), "cache")
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 16)
		for i := range errs {
			wg.Go(func() {
				<-start
				_, errs[i] = cache.Open(base, testRepoID, cache.Options{})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Open in goroutine %d = %v, want nil", round, i, err)
			}
		}
		checkSetup(t, base)
	}
}

func TestOpenVersion(t *testing.T) {
	tests := []struct {
		name    string
		version string
		wantErr string // "" for success
	}{
		{name: "current", version: "1"},
		{name: "current with newline", version: "1\n"},
		{name: "older", version: "0"},
		{name: "newer", version: "2", wantErr: "newer"},
		{name: "much newer", version: "17\n", wantErr: "newer"},
		{name: "garbage", version: "one", wantErr: "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, testRepoID)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "version"), []byte(tt.version), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := cache.Open(base, testRepoID, cache.Options{})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Open with version %q = %v, want nil", tt.version, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Open with version %q = %v, want error containing %q", tt.version, err, tt.wantErr)
			}
			// An existing version file is never replaced.
			if b, _ := os.ReadFile(filepath.Join(dir, "version")); string(b) != tt.version {
				t.Errorf("version file after Open = %q, want %q unchanged", b, tt.version)
			}
		})
	}
}

func TestOpenInvalidID(t *testing.T) {
	for _, id := range []string{"", "abc", "../" + testRepoID[3:], strings.ToUpper(testRepoID) + "0"} {
		if _, err := cache.Open(t.TempDir(), id, cache.Options{}); err == nil {
			t.Errorf("Open(id %q) = nil, want error", id)
		}
	}
}

// TestOpenMarksUse: opening sets the directory's mtime, which ListDirs
// reports as the last use.
func TestOpenMarksUse(t *testing.T) {
	base := t.TempDir()
	c, _ := openCache(t, base, cache.Options{})
	age(t, c.Dir, 40*24*time.Hour)
	dirs, err := cache.ListDirs(base, false)
	if err != nil || len(dirs) != 1 || !dirs[0].Old(cache.MaxAge) {
		t.Fatalf("ListDirs after ageing = %+v, %v, want one old directory", dirs, err)
	}
	openCache(t, base, cache.Options{})
	dirs, err = cache.ListDirs(base, false)
	if err != nil || len(dirs) != 1 || dirs[0].Old(cache.MaxAge) {
		t.Fatalf("ListDirs after Open = %+v, %v, want one directory in use", dirs, err)
	}
}

// TestOpenDuringRemoveDir: Open racing with RemoveDir of the same
// directory (cache --cleanup --max-age 0 while commands start) succeeds:
// the directory may vanish in the middle of the setup, which is then
// done again.
func TestOpenDuringRemoveDir(t *testing.T) {
	base := t.TempDir()
	var wg sync.WaitGroup
	done := make(chan struct{})
	removals := 0
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			dirs, err := cache.ListDirs(base, false)
			if err != nil {
				t.Errorf("ListDirs = %v", err)
				return
			}
			for _, d := range dirs {
				if err := cache.RemoveDir(d); err != nil {
					t.Errorf("RemoveDir = %v", err)
				}
				removals++
			}
			// A cleanup process takes milliseconds to start and list.
			time.Sleep(time.Millisecond)
		}
	})
	failed := 0
	for range 1000 {
		if _, err := cache.Open(base, testRepoID, cache.Options{}); err != nil {
			failed++
			if failed <= 3 {
				t.Errorf("Open during removals = %v, want nil", err)
			}
		}
	}
	close(done)
	wg.Wait()
	if failed > 0 {
		t.Errorf("%d of 1000 Opens failed", failed)
	}
	t.Logf("%d removals during 1000 Opens", removals)
}

// TestOpenVersionBeingWritten: restic creates the version file and then
// writes it, so another process may find it empty. Open waits for the
// content instead of failing, and takes a file left empty for good as the
// current version.
func TestOpenVersionBeingWritten(t *testing.T) {
	for _, late := range []string{"1", "2"} {
		base := t.TempDir()
		dir := filepath.Join(base, testRepoID)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		vfile := filepath.Join(dir, "version")
		if err := os.WriteFile(vfile, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			time.Sleep(200 * time.Millisecond)
			done <- os.WriteFile(vfile, []byte(late), 0o600)
		}()
		_, err := cache.Open(base, testRepoID, cache.Options{})
		if werr := <-done; werr != nil {
			t.Fatal(werr)
		}
		// The late content decides: "1" opens, "2" is newer than cairn's.
		if late == "1" && err != nil {
			t.Errorf("Open while restic writes version %q = %v, want nil", late, err)
		}
		if late == "2" && (err == nil || !strings.Contains(err.Error(), "newer")) {
			t.Errorf("Open while restic writes version %q = %v, want the newer-version error", late, err)
		}
	}
	base := t.TempDir()
	dir := filepath.Join(base, testRepoID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "version"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Open(base, testRepoID, cache.Options{}); err != nil {
		t.Errorf("Open with a version file left empty = %v, want nil", err)
	}
}
