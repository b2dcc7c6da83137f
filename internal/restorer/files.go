package restorer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"golang.org/x/sync/errgroup"
)

// tempSuffix marks a file being restored; it is renamed to its final name
// when complete.
const tempSuffix = ".cairn-restore"

// tempName is the name a file has while it is restored; for names too long
// to extend, a hash of the name stands in.
func tempName(p string) string {
	base := filepath.Base(p)
	if len(base)+1+len(tempSuffix) > 255 {
		sum := sha256.Sum256([]byte(base))
		base = hex.EncodeToString(sum[:12])
	}
	return filepath.Join(filepath.Dir(p), "."+base+tempSuffix)
}

func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, tempSuffix)
}

// fileJob is one regular file being restored.
type fileJob struct {
	path, tmp string
	node      *tree.Node
	fresh     bool // the temporary file was created empty (holes are zeros)
	existed   bool // a file was at the final name
	written   atomic.Uint64

	mu        sync.Mutex
	f         *os.File // open while chunks arrive; guarded by mu
	remaining atomic.Int64
	failed    atomic.Bool
}

// target is one place a chunk goes.
type target struct {
	job    *fileJob
	offset int64
}

// plan maps each pack to the chunks needed from it and where they go.
type plan map[id.ID]map[blob.Handle]*planned

type planned struct {
	loc     blob.PackedBlob
	targets []target
}

// keepExisting reports whether the regular file fi, found where node n is
// to be restored, stays as it is under the overwrite mode.
func (r *Restorer) keepExisting(fi os.FileInfo, n *tree.Node) bool {
	switch r.opts.Overwrite {
	case OverwriteNever:
		return true
	case OverwriteIfNewer:
		return !n.ModTime.After(fi.ModTime())
	case OverwriteIfChanged:
		return uint64(fi.Size()) == n.Size && fi.ModTime().Equal(n.ModTime)
	}
	return false
}

// planFile decides what a regular file needs and records it.
func (r *Restorer) planFile(p string, n *tree.Node) {
	fi, statErr := os.Lstat(p)
	exists := statErr == nil && fi.Mode().IsRegular()
	if exists {
		if r.keepExisting(fi, n) {
			r.skipped(p, n.Size)
			return
		}
	} else if r.opts.Overwrite == OverwriteNever && statErr == nil {
		r.skipped(p, n.Size)
		return
	}

	// Where each chunk goes.
	offsets := make([]int64, len(n.Content))
	locs := make([]blob.PackedBlob, len(n.Content))
	var size int64
	for i, c := range n.Content {
		l := r.repo.Locate(blob.Handle{ID: c, Type: blob.Data})
		if len(l) == 0 {
			r.fail(p, fmt.Errorf("data blob %v not in the index", c.Str()))
			return
		}
		offsets[i], locs[i] = size, l[0]
		size += int64(l[0].PlainSize())
	}
	if uint64(size) != n.Size {
		// The tree's size is what was read; trust the chunks.
		n.Size = uint64(size)
	}
	job := &fileJob{path: p, tmp: tempName(p), node: n, existed: exists}
	if r.opts.DryRun {
		r.count(func(s *Summary) { s.Files++; s.Bytes += uint64(size) })
		r.prog.AddFiles(1)
		r.prog.AddBytes(uint64(size))
		r.event("restored", p, uint64(size))
		return
	}
	if err := r.prepareTemp(job, exists, statErr); err != nil {
		r.fail(p, err)
		return
	}
	need, err := r.missing(job, offsets, locs)
	if err != nil {
		r.fail(p, err)
		job.discard()
		return
	}
	if err := os.Truncate(job.tmp, size); err != nil {
		r.fail(p, err)
		job.discard()
		return
	}
	r.files = append(r.files, job)
	job.remaining.Store(int64(len(need)))
	for _, i := range need {
		r.addToPlan(locs[i], target{job: job, offset: offsets[i]})
	}
	if len(need) == 0 {
		r.finish(job)
	}
}

// prepareTemp sets up job.tmp: resumed from an interrupted restore, taken
// over from the existing final file, or new.
func (r *Restorer) prepareTemp(job *fileJob, exists bool, statErr error) error {
	_, tmpErr := os.Lstat(job.tmp)
	switch {
	case exists && tmpErr == nil:
		// Both: the temporary one is stale.
		if err := os.Remove(job.tmp); err != nil {
			return err
		}
		fallthrough
	case exists:
		// Patch the existing file under the temporary name, so that the
		// final name never holds a half-updated file.
		if err := os.Rename(job.path, job.tmp); err != nil {
			return err
		}
		return os.Chmod(job.tmp, 0o600)
	case tmpErr == nil:
		return os.Chmod(job.tmp, 0o600) // resume
	}
	if statErr == nil {
		// Something else (symlink, directory, ...) is in the way.
		if err := os.RemoveAll(job.path); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(job.tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	job.fresh = true
	return f.Close()
}

// missing returns the indexes of the chunks the temporary file does not
// already hold, reading and hashing what is there.
func (r *Restorer) missing(job *fileJob, offsets []int64, locs []blob.PackedBlob) ([]int, error) {
	all := make([]int, len(locs))
	for i := range all {
		all[i] = i
	}
	if job.fresh {
		if !r.opts.Sparse {
			return all, nil
		}
	}
	f, err := os.Open(job.tmp)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var need []int
	var buf []byte
	for i, l := range locs {
		n := int64(l.PlainSize())
		if offsets[i]+n > fi.Size() {
			need = append(need, i)
			continue
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := f.ReadAt(buf, offsets[i]); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if sha256.Sum256(buf) != l.Handle.ID {
			need = append(need, i)
		}
	}
	return need, nil
}

func (r *Restorer) addToPlan(loc blob.PackedBlob, t target) {
	if r.plan == nil {
		r.plan = plan{}
	}
	byBlob := r.plan[loc.PackID]
	if byBlob == nil {
		byBlob = map[blob.Handle]*planned{}
		r.plan[loc.PackID] = byBlob
	}
	pl := byBlob[loc.Handle]
	if pl == nil {
		pl = &planned{loc: loc}
		byBlob[loc.Handle] = pl
	}
	pl.targets = append(pl.targets, t)
}

// restoreFiles reads every planned pack once and writes its chunks.
func (r *Restorer) restoreFiles(ctx context.Context) error {
	packs := make(chan map[blob.Handle]*planned)
	g, gctx := errgroup.WithContext(ctx)
	for range r.opts.Workers {
		g.Go(func() error {
			for byBlob := range packs {
				r.restorePack(gctx, byBlob)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(packs)
		for _, byBlob := range r.plan {
			select {
			case packs <- byBlob:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	err := g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	// Files left incomplete (cancelled, or a pack failed as a whole).
	for _, job := range r.files {
		if job.remaining.Load() > 0 && !job.failed.Load() {
			job.closeFile()
		}
	}
	return err
}

func (r *Restorer) restorePack(ctx context.Context, byBlob map[blob.Handle]*planned) {
	locs := make([]blob.PackedBlob, 0, len(byBlob))
	for _, pl := range byBlob {
		locs = append(locs, pl.loc)
	}
	delivered := make(map[blob.Handle]bool, len(byBlob))
	err := r.repo.StreamPack(ctx, locs, func(loc blob.PackedBlob, plain []byte, err error) error {
		delivered[loc.Handle] = true
		for _, t := range byBlob[loc.Handle].targets {
			if err != nil {
				r.failJob(t.job, err)
				continue
			}
			r.write(t, plain)
		}
		return ctx.Err()
	})
	if err == nil || ctx.Err() != nil {
		return
	}
	for h, pl := range byBlob {
		if delivered[h] {
			continue
		}
		for _, t := range pl.targets {
			r.failJob(t.job, err)
		}
	}
}

// write puts one chunk in place and finishes the file after its last one.
func (r *Restorer) write(t target, plain []byte) {
	job := t.job
	if job.failed.Load() {
		return
	}
	if !(r.opts.Sparse && job.fresh && allZero(plain)) {
		job.mu.Lock()
		var err error
		if job.f == nil {
			job.f, err = os.OpenFile(job.tmp, os.O_WRONLY, 0)
		}
		if err == nil {
			_, err = job.f.WriteAt(plain, t.offset)
		}
		job.mu.Unlock()
		if err != nil {
			r.failJob(job, err)
			return
		}
		r.count(func(s *Summary) { s.BytesWritten += uint64(len(plain)) })
	}
	// Counted as written also for holes left in a sparse file.
	job.written.Add(uint64(len(plain)))
	r.prog.AddBytes(uint64(len(plain)))
	if job.remaining.Add(-1) == 0 {
		r.finish(job)
	}
}

var zeroChunk = make([]byte, 64<<10)

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroChunk))
		if !bytes.Equal(b[:n], zeroChunk[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// failJob reports a file once and drops its temporary file.
func (r *Restorer) failJob(job *fileJob, err error) {
	if job.failed.Swap(true) {
		return
	}
	r.fail(job.path, err)
	job.discard()
}

func (job *fileJob) closeFile() {
	job.mu.Lock()
	defer job.mu.Unlock()
	if job.f != nil {
		_ = job.f.Close()
		job.f = nil
	}
}

func (job *fileJob) discard() {
	job.closeFile()
	_ = os.Remove(job.tmp)
}

// finish moves a complete file into place and applies its metadata.
func (r *Restorer) finish(job *fileJob) {
	job.closeFile()
	if err := os.Rename(job.tmp, job.path); err != nil {
		r.failJob(job, err)
		return
	}
	if err := r.applyMetadata(job.path, job.node); err != nil {
		r.fail(job.path, err)
	}
	r.count(func(s *Summary) { s.Files++; s.Bytes += job.node.Size })
	written := job.written.Load()
	switch {
	case job.existed && written == 0:
		// Every chunk was already in place: restic calls that unchanged.
		r.prog.AddSkipped(1, job.node.Size)
		r.event("unchanged", job.path, job.node.Size)
	default:
		r.prog.AddFiles(1)
		// Chunks that were already in place count as skipped bytes.
		r.prog.AddSkipped(0, job.node.Size-min(written, job.node.Size))
		action := "restored"
		if job.existed {
			action = "updated"
		}
		r.event(action, job.path, job.node.Size)
	}
}

// verifyFile checks the file on disk against the node's chunks.
func (r *Restorer) verifyFile(job *fileJob) error {
	f, err := os.Open(job.path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	var off int64
	var buf []byte
	for _, c := range job.node.Content {
		locs := r.repo.Locate(blob.Handle{ID: c, Type: blob.Data})
		if len(locs) == 0 {
			return fmt.Errorf("data blob %v not in the index", c.Str())
		}
		n := int(locs[0].PlainSize())
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := f.ReadAt(buf, off); err != nil {
			return fmt.Errorf("read at %d: %w", off, err)
		}
		if sha256.Sum256(buf) != c {
			return fmt.Errorf("content at offset %d differs from the snapshot", off)
		}
		off += int64(n)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != off {
		return fmt.Errorf("size %d, want %d", fi.Size(), off)
	}
	return err
}
