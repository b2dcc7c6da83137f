package filter_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/internal/filter"
)

// tree creates files (name → content; a name ending in "/" is a directory)
// under a new temporary directory and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestIsCacheDir(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"signature", map[string]string{"CACHEDIR.TAG": filter.CacheDirSignature}, true},
		{"signature and more", map[string]string{"CACHEDIR.TAG": filter.CacheDirSignature + "\n# made by x\n"}, true},
		{"short signature", map[string]string{"CACHEDIR.TAG": filter.CacheDirSignature[:len(filter.CacheDirSignature)-1]}, false},
		{"wrong signature", map[string]string{"CACHEDIR.TAG": "Signature: 0000"}, false},
		{"empty tag", map[string]string{"CACHEDIR.TAG": ""}, false},
		{"tag is a directory", map[string]string{"CACHEDIR.TAG/": ""}, false},
		{"lower-case name", map[string]string{"cachedir.tag": filter.CacheDirSignature}, false},
		{"no tag", map[string]string{"f": "x"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := filter.IsCacheDir(tree(t, c.files)); got != c.want {
				t.Errorf("IsCacheDir(%v) = %v, want %v", c.files, got, c.want)
			}
		})
	}
	if filter.IsCacheDir(filepath.Join(t.TempDir(), "missing")) {
		t.Error("IsCacheDir(missing dir) = true")
	}
}

func TestIfPresent(t *testing.T) {
	// Checked with restic 0.14 --exclude-if-present.
	for _, c := range []struct {
		name  string
		spec  string
		files map[string]string
		want  bool
	}{
		{"present", ".nobackup", map[string]string{".nobackup": ""}, true},
		{"absent", ".nobackup", map[string]string{"f": ""}, false},
		{"directory counts", ".nobackup", map[string]string{".nobackup/": ""}, true},
		{"header matches", ".nobackup:hello", map[string]string{".nobackup": "hello world"}, true},
		{"header mismatch", ".nobackup:hellx", map[string]string{".nobackup": "hello world"}, false},
		{"header longer than file", ".nobackup:hello world!", map[string]string{".nobackup": "hello world"}, false},
		{"header with colon", "tag:a:b", map[string]string{"tag": "a:b c"}, true},
		{"header on a directory", ".nobackup:x", map[string]string{".nobackup/": ""}, false},
		{"name with slash", "a/b", map[string]string{"a/b": ""}, true},
		{"no wildcards", "*.tag", map[string]string{"x.tag": ""}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := filter.ParseIfPresent(c.spec)
			if err != nil {
				t.Fatalf("ParseIfPresent(%q) error: %v", c.spec, err)
			}
			if got := p.Excludes(tree(t, c.files)); got != c.want {
				t.Errorf("ParseIfPresent(%q).Excludes(%v) = %v, want %v", c.spec, c.files, got, c.want)
			}
		})
	}
}

func TestIfPresentDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, ".nobackup")); err != nil {
		t.Skip("no symlinks:", err)
	}
	p, err := filter.ParseIfPresent(".nobackup")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Excludes(dir) { // restic 0.14 counts the link itself
		t.Error("Excludes(dir with dangling .nobackup link) = false, want true")
	}
}

func TestParseIfPresent(t *testing.T) {
	for _, spec := range []string{"", ":header"} {
		if _, err := filter.ParseIfPresent(spec); err == nil {
			t.Errorf("ParseIfPresent(%q) = nil error, want one", spec)
		}
	}
	p, err := filter.ParseIfPresent("CACHEDIR.TAG:Signature: x")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Filename(); got != "CACHEDIR.TAG" {
		t.Errorf("Filename() = %q, want CACHEDIR.TAG", got)
	}
	var zero filter.IfPresent
	if zero.Excludes(t.TempDir()) {
		t.Error("zero IfPresent excludes")
	}
}
