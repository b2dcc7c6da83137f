package filter_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/internal/filter"
)

func TestExclude(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "patterns"), []byte("*.LOG\n"), 0o644))
	must(os.Mkdir(filepath.Join(dir, "skip"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "skip", ".nobackup"), nil, 0o644))
	must(os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2000), 0o644))
	must(os.WriteFile(filepath.Join(dir, "small"), make([]byte, 10), 0o644))

	none, err := filter.ParseExclude(filter.ExcludeSpec{})
	must(err)
	if none.Func() != nil {
		t.Error("no rules: predicate is not nil")
	}
	ex, err := filter.ParseExclude(filter.ExcludeSpec{
		Patterns: []string{"*.tmp"}, IPatternFiles: []string{filepath.Join(dir, "patterns")},
		IfPresent: []string{".nobackup"},
	})
	must(err)
	ex.LargerThan = 1000
	excluded := ex.Func()
	for name, want := range map[string]bool{"a.tmp": true, "x.log": true, "skip": true, "big": true, "small": false, "patterns": false} {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if os.IsNotExist(err) {
			must(os.WriteFile(p, nil, 0o644))
			fi, err = os.Lstat(p)
		}
		must(err)
		if got := excluded(p, fi); got != want {
			t.Errorf("excluded(%s) = %v, want %v", name, got, want)
		}
	}
	if _, err := filter.ParseExclude(filter.ExcludeSpec{PatternFiles: []string{filepath.Join(dir, "missing")}}); err == nil {
		t.Error("missing pattern file: no error")
	}
}
