package chunker

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	rc "github.com/restic/chunker"
)

// TestBenchgenFiles chunks every file of a small generated benchmark set
// (random files of 1 to 64 MiB, compressible text, small files) with both
// chunkers, one of each reused across files as the archiver does.
func TestBenchgenFiles(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "benchgen")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cairn-backup/cairn/tools/benchgen").CombinedOutput(); err != nil {
		t.Fatalf("build benchgen: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "data")
	if out, err := exec.Command(bin, "-out", dir, "-size", "64M", "-seed", "3").CombinedOutput(); err != nil {
		t.Fatalf("benchgen: %v\n%s", err, out)
	}
	mine, ref := New(nil, testPols[0]), rc.New(nil, testPols[0])
	var files, chunks, big int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pol := testPols[files%len(testPols)]
		files++
		ref.Reset(bytes.NewReader(data), pol)
		mine.Reset(bytes.NewReader(data), pol)
		want, wantErr := collect(ref)
		got, gotErr := collect(mine)
		compare(t, want, wantErr, got, gotErr)
		if t.Failed() {
			t.Fatalf("%s (%d bytes) differs", path, len(data))
		}
		chunks += len(got)
		if len(got) > 1 {
			big++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files, %d chunks, %d files of more than one chunk", files, chunks, big)
	if files < 100 || big < 3 {
		t.Fatalf("benchgen made %d files, %d of more than one chunk; the test needs more", files, big)
	}
}
