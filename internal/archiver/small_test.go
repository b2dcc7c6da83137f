package archiver_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/restic/chunker"
)

// TestFileSizesAroundMinChunk: files on both sides of the chunker's
// minimum size (the smaller ones are read in one piece, without the
// chunker) are stored whole, as their size says.
func TestFileSizesAroundMinChunk(t *testing.T) {
	base := t.TempDir()
	sizes := []int{0, 1, 2, 4095, chunker.MinSize - 1, chunker.MinSize, chunker.MinSize + 1, 3 * chunker.MinSize}
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string][]byte{}
	for _, n := range sizes {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		name := fmt.Sprintf("f%d", n)
		want[name] = data
		put(t, filepath.Join(base, "src", name), string(data))
	}
	t.Chdir(base)
	r := newRepo(t)
	root, sum := run(t, r, archiver.Options{NoScan: true}, []string{"src"}, nil)
	flush(t, r)
	if sum.Errors != 0 {
		t.Fatalf("Summary.Errors = %d", sum.Errors)
	}
	nodes := walk(t, r, root)
	for name, data := range want {
		n := nodes["src/"+name]
		if n == nil {
			t.Fatalf("no node for %s in %v", name, nodes)
		}
		var got []byte
		for _, c := range n.Content {
			b, err := r.LoadBlob(t.Context(), blob.Handle{ID: c, Type: blob.Data})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b...)
		}
		if !bytes.Equal(got, data) || n.Size != uint64(len(data)) {
			t.Errorf("%s: %d bytes in %d blobs, size %d; want %d bytes", name, len(got), len(n.Content), n.Size, len(data))
		}
		if len(data) < chunker.MinSize && len(n.Content) != min(1, len(data)) {
			t.Errorf("%s: %d blobs, want %d", name, len(n.Content), min(1, len(data)))
		}
	}
}
