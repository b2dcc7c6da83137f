package archiver_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// slowTreeRepo delays the loading of trees and records how many loads
// were under way at once.
type slowTreeRepo struct {
	countingRepo
	delay time.Duration

	mu      sync.Mutex
	loading int // guarded by mu
	peak    int // guarded by mu
}

func (s *slowTreeRepo) LoadBlob(ctx context.Context, h blob.Handle) ([]byte, error) {
	if h.Type == blob.Tree {
		s.mu.Lock()
		s.loading++
		s.peak = max(s.peak, s.loading)
		s.mu.Unlock()
		time.Sleep(s.delay)
		defer func() {
			s.mu.Lock()
			s.loading--
			s.mu.Unlock()
		}()
	}
	return s.r.LoadBlob(ctx, h)
}

// walkFixture writes a tree that is wide and deep: 6 top directories,
// each with 5 subdirectories of files, one chain 12 deep, empty
// directories and symlinks.
func walkFixture(t *testing.T) string {
	src := filepath.Join(t.TempDir(), "src")
	fs := newTestFS(t, src, 11)
	for d := range 6 {
		for s := range 5 {
			for f := range 7 {
				fs.file(fmt.Sprintf("d%d/s%d/f%d.txt", d, s, f), fs.random(50+d*31+s*7+f))
			}
		}
		fs.file(fmt.Sprintf("d%d/top.txt", d), fs.random(100+d))
		fs.dir(fmt.Sprintf("d%d/empty", d))
		fs.symlink("top.txt", fmt.Sprintf("d%d/link", d))
	}
	deep := "deep"
	for i := range 12 {
		deep = filepath.Join(deep, fmt.Sprintf("l%d", i))
		fs.file(filepath.Join(deep, "x.txt"), fs.random(10+i))
	}
	return src
}

// TestRunWalkersSameTree backs up the same tree with a serial walk and
// with parallel ones, first without and then with a parent: the snapshot
// trees (of src; the directories above it change as other tests run),
// the summaries and the per-file events must not depend on the walk.
func TestRunWalkersSameTree(t *testing.T) {
	t.Parallel()
	src := walkFixture(t)
	r := newRepo(t)
	type result struct {
		root, again id.ID
		sum, sum2   archiver.Summary
		events      map[string]archiver.FileState
	}
	var want result
	for _, walkers := range []int{1, 2, 7, 64} {
		rep := newReporter()
		o := archiver.Options{Walkers: walkers, Progress: rep.progress(), NoScan: true}
		root, sum := run(t, r, o, []string{src}, nil)
		flush(t, r)
		o.Progress = nil
		again, sum2 := run(t, r, o, []string{src}, &root)
		flush(t, r)
		got := result{root: descend(t, r, root, src), again: descend(t, r, again, src), sum: clean(sum), sum2: clean(sum2), events: maps.Clone(rep.complete)}
		if walkers == 1 {
			want = got
			if got.root != got.again {
				t.Errorf("serial walk: unchanged backup root %v, want %v", got.again.Str(), got.root.Str())
			}
			if len(got.events) != 6*5*7+6+12 {
				t.Errorf("serial walk: %d file events, want %d", len(got.events), 6*5*7+6+12)
			}
			continue
		}
		if got.root != want.root || got.again != want.again {
			t.Errorf("Walkers %d: roots %v, %v; want %v, %v as with a serial walk", walkers, got.root.Str(), got.again.Str(), want.root.Str(), want.again.Str())
		}
		if got.sum != want.sum || got.sum2 != want.sum2 {
			t.Errorf("Walkers %d: summaries %+v, %+v; want %+v, %+v", walkers, got.sum, got.sum2, want.sum, want.sum2)
		}
		if !maps.Equal(got.events, want.events) {
			t.Errorf("Walkers %d: file events %v, want %v", walkers, got.events, want.events)
		}
	}
}

// TestRunWalkersParallel shows that directories are read in parallel
// (their parent trees load at once) unless the walk is serial.
func TestRunWalkersParallel(t *testing.T) {
	t.Parallel()
	src := walkFixture(t)
	r := newRepo(t)
	root, _ := run(t, r, archiver.Options{}, []string{src}, nil)
	flush(t, r)
	for _, tc := range []struct{ walkers, minPeak, maxPeak int }{{1, 1, 1}, {4, 2, 4}} {
		s := &slowTreeRepo{countingRepo: countingRepo{r: r}, delay: 5 * time.Millisecond}
		again, _ := run(t, s, archiver.Options{Walkers: tc.walkers}, []string{src}, &root)
		flush(t, r)
		if again, root := descend(t, r, again, src), descend(t, r, root, src); again != root {
			t.Errorf("Walkers %d: root %v, want %v", tc.walkers, again.Str(), root.Str())
		}
		if s.peak < tc.minPeak || s.peak > tc.maxPeak {
			t.Errorf("Walkers %d: %d parent trees loaded at once, want %d to %d", tc.walkers, s.peak, tc.minPeak, tc.maxPeak)
		}
	}
}

// clean drops the times from a summary, which differ from run to run.
func clean(s archiver.Summary) archiver.Summary {
	s.BackupStart, s.BackupEnd = time.Time{}, time.Time{}
	return s
}
