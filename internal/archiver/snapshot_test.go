package archiver_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/archiver"
)

func TestTargets(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := filepath.Join(dir, "list")
	if err := os.WriteFile(list, []byte("# comment\n\n"+b+"\r\n"+a+"/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, err := archiver.Targets([]string{a + "/."}, []string{list, "-"}, strings.NewReader(filepath.Join(dir, "?")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a, b}; !slices.Equal(got, want) {
		t.Errorf("Targets = %v, want %v", got, want)
	}
	if _, _, err := archiver.Targets(nil, nil, nil); err == nil {
		t.Error("no targets: no error")
	}
	missing := filepath.Join(dir, "missing")
	if _, _, err := archiver.Targets([]string{missing}, nil, nil); !errors.Is(err, archiver.ErrNoTargets) {
		t.Errorf("only a missing target: %v, want ErrNoTargets", err)
	}
	got, skipped, err := archiver.Targets([]string{a, missing}, nil, nil)
	if err != nil || !slices.Equal(got, []string{a}) || !slices.Equal(skipped, []string{missing}) {
		t.Errorf("Targets(a, missing) = %v, %v, %v; want [a], [missing], nil", got, skipped, err)
	}
}
