package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sync/errgroup"
)

// generate writes the planned data set under dir, which must be missing or
// empty, with the given number of workers.
func generate(ctx context.Context, dir string, p plan, workers int) error {
	if err := checkEmpty(dir); err != nil {
		return err
	}
	for _, d := range p.dirs {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o755); err != nil {
			return err
		}
	}

	g, ctx := errgroup.WithContext(ctx)
	next := make(chan *fileSpec)
	g.Go(func() error {
		defer close(next)
		for i := range p.files {
			select {
			case next <- &p.files[i]:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for range max(workers, 1) {
		g.Go(func() error {
			cw := newContentWriter()
			for f := range next {
				if err := cw.writeFile(filepath.Join(dir, filepath.FromSlash(f.path)), f); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	// Directory times last, deepest first, as writing files changes them.
	for _, d := range slices.Backward(p.dirs) {
		if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(d)), epoch, epoch); err != nil {
			return err
		}
	}
	return nil
}

// writeFile creates name with the spec's content and modification time.
func (cw *contentWriter) writeFile(name string, f *fileSpec) error {
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	err = cw.write(out, f.kind, f.size, f.seed)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return os.Chtimes(name, f.mtime, f.mtime)
}

// checkEmpty refuses to write into a directory that holds anything, so a
// wrong -out cannot mix generated files into real ones.
func checkEmpty(dir string) error {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Readdirnames(1); err == nil {
		return fmt.Errorf("%s is not empty; remove it or pick another -out", dir)
	} else if !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
