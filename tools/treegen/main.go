// Command treegen writes a deterministic tree of many small files, for
// the bench-tree benchmark: -files files spread evenly over -dirs
// directories under -out, each a few hundred bytes to a few KiB, about a
// quarter of them copies of a small set of shared contents. The same
// flags always give the same tree. It writes the directories in
// parallel and records its flags in -out/.treegen when it is done, so
// that a caller can tell a complete tree from a half-written one.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

func main() {
	out := flag.String("out", "", "directory to write the tree into (required)")
	files := flag.Int("files", 1000000, "number of files")
	dirs := flag.Int("dirs", 1000, "number of directories")
	seed := flag.Uint64("seed", 1, "seed for sizes and contents")
	flag.Parse()
	if *out == "" || *files < 0 || *dirs <= 0 {
		fmt.Fprintln(os.Stderr, "treegen: -out is required; -files must be >= 0 and -dirs > 0")
		os.Exit(2)
	}
	if err := generate(*out, *files, *dirs, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "treegen:", err)
		os.Exit(1)
	}
}

// stamp is what .treegen holds for a finished tree.
func stamp(files, dirs int, seed uint64) string {
	return fmt.Sprintf("files=%d dirs=%d seed=%d\n", files, dirs, seed)
}

func generate(out string, files, dirs int, seed uint64) error {
	marker := filepath.Join(out, ".treegen")
	if b, err := os.ReadFile(marker); err == nil && string(b) == stamp(files, dirs, seed) {
		return nil // already there
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// Shared contents that a quarter of the files repeat.
	shared := make([][]byte, 64)
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range shared {
		shared[i] = content(r, 200+r.IntN(4000))
	}

	work := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for d := range work {
				if err := writeDir(out, d, files, dirs, seed, shared); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for d := range dirs {
		work <- d
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return os.WriteFile(marker, []byte(stamp(files, dirs, seed)), 0o644)
}

// writeDir writes directory d and its share of the files.
func writeDir(out string, d, files, dirs int, seed uint64, shared [][]byte) error {
	dir := filepath.Join(out, fmt.Sprintf("d%04d", d))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	n := files / dirs
	if d < files%dirs {
		n++
	}
	r := rand.New(rand.NewPCG(seed, uint64(d)+1))
	buf := make([]byte, 0, 8192)
	for i := range n {
		var data []byte
		if r.IntN(4) == 0 {
			data = shared[r.IntN(len(shared))]
		} else {
			buf = appendContent(buf[:0], r, 200+r.IntN(4000))
			data = buf
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d.txt", i)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func content(r *rand.Rand, n int) []byte { return appendContent(nil, r, n) }

// appendContent appends n bytes of random text-like data.
func appendContent(b []byte, r *rand.Rand, n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz      \n0123456789"
	for range n {
		b = append(b, alphabet[r.IntN(len(alphabet))])
	}
	return b
}
