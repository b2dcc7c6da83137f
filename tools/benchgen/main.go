// Command benchgen writes a deterministic data set for benchmarking backups,
// or changes a share of an existing one:
//
//	go run ./tools/benchgen -out DIR -size 2G [-seed N]
//	go run ./tools/benchgen -out DIR -mutate 5 [-seed N]
//
// About 60 % of the bytes are incompressible files of 1 to 64 MiB (and a
// few of 200 MiB and more when the size allows), 15 % generated text
// (prose, logs, CSV) that zstd compresses 3 to 5 times, and the rest small
// files of 100 B to 32 KiB spread over a tree of up to 1000 directories.
// The same size and seed always give the same tree, bytes and times.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
}

// run does the work of main; the summary goes to stdout, usage to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("benchgen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("out", "", "directory to write (must be missing or empty), or to change with -mutate")
	sizeFlag := fl.String("size", "2G", "total size of the data set, with a K, M or G suffix")
	seed := fl.Uint64("seed", 1, "seed; the same seed and size give the same data")
	percent := fl.Float64("mutate", 0, "instead of generating, change this percentage of the files in -out")
	workers := fl.Int("workers", runtime.GOMAXPROCS(0), "files written in parallel")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" || fl.NArg() > 0 {
		fl.Usage()
		return fmt.Errorf("need -out DIR and no arguments")
	}
	start := time.Now()

	if *percent > 0 {
		m, err := mutate(*out, *percent, *seed)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "benchgen: changed %d of %d files (%d appended, %d overwritten, %d replaced), added %d, in %s\n",
			m.changed(), m.files, m.appended, m.overwritten, m.replaced, m.added, *out)
		return nil
	}

	size, err := parseSize(*sizeFlag)
	if err != nil {
		return err
	}
	p := makePlan(size, *seed)
	if err := generate(context.Background(), *out, p, *workers); err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "benchgen: %d files, %d dirs, %d bytes (%s) in %s, seed %d, %.1fs (%.0f MB/s)\n",
		len(p.files), len(p.dirs), p.bytes, formatSize(p.bytes), *out, *seed,
		took.Seconds(), float64(p.bytes)/1e6/took.Seconds())
	return nil
}
