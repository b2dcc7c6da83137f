package restorer_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/internal/restorer"
)

// TestRunHardlinkRespectsOverwrite restores a hard-linked pair over a
// target in which one of the two names is a separate file with other
// content. Modes that leave existing files alone must leave that file
// alone too; it must not be replaced by a link to the other name.

func TestRunHardlinkRespectsOverwrite(t *testing.T) {
	f := newFixture(t, sampleTree())
	for _, mode := range []string{"never", "if-newer"} {
		t.Run(mode, func(t *testing.T) {
			ow, err := restorer.ParseOverwrite(mode)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			if _, errs, err := f.restore(t, t.Context(), restorer.Options{Target: dst}); err != nil || len(errs) > 0 {
				t.Fatalf("first Run = %v, reported %v", err, errs)
			}
			// Break the link: medium.bin becomes a file of its own, newer
			// than the snapshot's.
			p := filepath.Join(dst, "medium.bin")
			mine := []byte("my own edited version\n")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, mine, 0o600); err != nil {
				t.Fatal(err)
			}
			sum, errs, err := f.restore(t, t.Context(), restorer.Options{Target: dst, Overwrite: ow})
			if err != nil || len(errs) > 0 {
				t.Fatalf("Run(overwrite %s) = %v, reported %v", mode, err, errs)
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(mine) {
				t.Errorf("Run(overwrite %s): content(medium.bin) = %d bytes, want the existing %d bytes left alone (summary %+v)", mode, len(got), len(mine), sum)
			}
		})
	}
}
