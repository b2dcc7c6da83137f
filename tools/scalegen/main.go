// Command scalegen adds N synthetic blobs to an existing restic repository
// (local path, version 2, made by `restic init`), in real pack files and
// index files, so that the repository stays valid: `restic check
// --read-data` finds no errors. It exists to measure how cairn and restic
// scale with the size of the index (`make bench-scale`):
//
//	RESTIC_PASSWORD=... go run ./tools/scalegen -repo DIR -blobs 1000000 [-seed N]
//
// Blobs are 16 to 32 bytes of seeded pseudo-random plaintext; 5 % are tree
// blobs (nothing references them, so their content need not be a tree).
// Data and tree blobs go to separate packs of about 2,000 blobs; every
// 50,000 blobs get one plain-JSON index file, encrypted like any other file.
// The same seed gives the same blobs (and blob IDs); pack and index file IDs
// differ between runs because every encryption draws a fresh IV. Nothing in
// the repository references the new blobs: a real prune deletes them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/repository"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "scalegen:", err)
		os.Exit(1)
	}
}

// run does the work of main; the summary goes to stdout, usage to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("scalegen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	repo := fl.String("repo", "", "existing local repository directory")
	password := fl.String("password", "", "repository password (default $RESTIC_PASSWORD)")
	passwordFile := fl.String("password-file", "", "read the repository password from this file")
	o := defaultOptions()
	fl.IntVar(&o.blobs, "blobs", 0, "number of blobs to add")
	fl.Uint64Var(&o.seed, "seed", o.seed, "seed; the same seed gives the same blobs")
	fl.IntVar(&o.packBlobs, "pack-blobs", o.packBlobs, "blobs per pack file")
	fl.IntVar(&o.indexBlobs, "index-blobs", o.indexBlobs, "blobs per index file")
	fl.IntVar(&o.treeEvery, "tree-every", o.treeEvery, "every n-th blob is a tree blob (20: 5 %)")
	fl.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "index files written in parallel")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *repo == "" || o.blobs <= 0 || fl.NArg() > 0 {
		fl.Usage()
		return fmt.Errorf("need -repo DIR, -blobs N > 0 and no arguments")
	}
	pw, err := readPassword(*password, *passwordFile)
	if err != nil {
		return err
	}
	start := time.Now()
	be, err := local.Open(strings.TrimPrefix(*repo, "local:"))
	if err != nil {
		return err
	}
	defer be.Close()
	r, err := repository.Open(ctx, be, pw, repository.Options{})
	if err != nil {
		return err
	}
	if v := r.Config().Version; v < 2 {
		return fmt.Errorf("repository version %d: need version 2", v)
	}
	st, err := generate(ctx, be, r.Key(), o)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "scalegen: %d blobs (%d tree) in %d packs, %d index files, %d bytes, seed %d, %.1fs\n",
		st.blobs, st.trees, st.packs, st.indexes, st.bytes, o.seed, took.Seconds())
	return nil
}

// readPassword picks the password from the flag, the file or the environment.
func readPassword(flagValue, file string) (string, error) {
	switch {
	case flagValue != "":
		return flagValue, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case os.Getenv("RESTIC_PASSWORD") != "":
		return os.Getenv("RESTIC_PASSWORD"), nil
	}
	return "", fmt.Errorf("no password: use -password, -password-file or RESTIC_PASSWORD")
}
