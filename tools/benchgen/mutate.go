package main

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// mutation counts what mutate did.
type mutation struct {
	appended, overwritten, replaced, added int
	files                                  int // regular files before
}

func (m mutation) changed() int { return m.appended + m.overwritten + m.replaced }

// mutate changes percent % of the regular files under dir, chosen and
// changed deterministically from seed and the tree as it is: 40 % get a
// few bytes appended, 40 % a range in the middle overwritten, 20 % are
// replaced whole by new bytes of the same size. Each changed file's
// modification time moves an hour on. Then it adds a few new small files,
// one for every 20 changed (at least one).
func mutate(dir string, percent float64, seed uint64) (mutation, error) {
	var m mutation
	var files, dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	m.files = len(files)

	rng := rand.New(rand.NewPCG(seed, mutateStream))
	n := int(math.Round(float64(len(files)) * percent / 100))
	if percent > 0 {
		n = max(n, 1)
	}
	n = min(n, len(files))
	cw := newContentWriter()
	for _, i := range rng.Perm(len(files))[:n] {
		if err := m.change(cw, rng, files[i]); err != nil {
			return m, err
		}
	}

	added := epoch.AddDate(1, 1, 0) // the time of new files and their directories
	for k := 0; m.added < max(1, n/20); k++ {
		dir := dirs[rng.IntN(len(dirs))]
		name := filepath.Join(dir, fmt.Sprintf("added-%s-%d.dat", words[rng.IntN(len(words))], k))
		spec := &fileSpec{size: smallMin + rng.Int64N(smallMax-smallMin+1), seed: rng.Uint64(), mtime: added}
		if _, err := os.Lstat(name); err == nil {
			continue // added by an earlier run
		}
		if err := cw.writeFile(name, spec); err != nil {
			return m, err
		}
		if err := os.Chtimes(dir, added, added); err != nil {
			return m, err
		}
		m.added++
	}
	return m, nil
}

// change applies one of the three kinds of change to the file name.
func (m *mutation) change(cw *contentWriter, rng *rand.Rand, name string) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	size := fi.Size()
	op := rng.IntN(10)
	if size == 0 && op >= 4 && op < 8 {
		op = 0 // nothing in the middle to overwrite
	}
	seed := rng.Uint64()
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	switch {
	case op < 4:
		_, err = f.Seek(0, io.SeekEnd)
		if err == nil {
			err = cw.writeRandom(f, 1+int64(rng.IntN(256)), seed)
		}
		m.appended++
	case op < 8:
		n := min(max(size/64, 1), miB)
		_, err = f.Seek((size-n)/2, io.SeekStart)
		if err == nil {
			err = cw.writeRandom(f, n, seed)
		}
		m.overwritten++
	default:
		err = cw.writeRandom(f, size, seed)
		m.replaced++
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("change %s: %w", name, err)
	}
	later := fi.ModTime().Add(time.Hour)
	return os.Chtimes(name, later, later)
}
