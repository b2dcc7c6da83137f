package restorer_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cairn-backup/cairn/internal/restorer"
)

// BenchmarkRestore restores a tree of many small files in many
// directories and a few multi-chunk ones into a new target each time, the
// shape of a typical restore; the file count, not the bytes, dominates.
// Run with -benchtime=5x: each iteration writes ~20 MiB and 2000 files.
func BenchmarkRestore(b *testing.B) {
	var entries []entry
	var total int64
	for d := range 40 {
		for f := range 50 {
			data := randomBytes(200+(d*50+f)*37%12000, uint64(d*50+f))
			entries = append(entries, entry{path: fmt.Sprintf("d%02d/f%03d", d, f), kind: 'f', data: data, mode: 0o644, modTime: base})
			total += int64(len(data))
		}
	}
	for i := range 2 {
		data := randomBytes(6<<20, uint64(1000+i))
		entries = append(entries, entry{path: "big/" + strconv.Itoa(i), kind: 'f', data: data, mode: 0o600, modTime: base})
		total += int64(len(data))
	}
	src := filepath.Join(b.TempDir(), "src")
	writeTree(b, src, entries)
	repo := initRepo(b)
	_, root := backup(b, repo, src)
	r := openRepo(b, repo, nil)
	dir := b.TempDir()
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		dst := filepath.Join(dir, strconv.Itoa(i))
		sum, err := restorer.New(r, restorer.Options{Target: dst}).Run(b.Context(), root)
		if err != nil || sum.Errors > 0 || sum.Files != len(entries) {
			b.Fatalf("Run = %+v, %v; want %d files, no errors", sum, err, len(entries))
		}
	}
}
