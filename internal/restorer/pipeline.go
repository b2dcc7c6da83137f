package restorer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/repository"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// The file pipeline. Options.Workers readers each take one pack at a time,
// in plan order, and write each decoded chunk straight from the decode
// buffer to the files that need it (no copy, no queue: memory stays one
// chunk per reader). Creating a file costs far more kernel time than
// writing a small one, so Options.Writers openers walk the files in plan
// order ahead of the readers and create their temporary files, in
// parallel, holding at most Options.MaxOpenFiles open; a reader that gets
// ahead of them creates the file itself. The goroutine that writes a
// file's last chunk applies its metadata on the open descriptor, closes
// it and renames it into place.

// restoreFiles reads every planned pack once and writes its chunks.
func (r *Restorer) restoreFiles(ctx context.Context) error {
	p := &pipeline{r: r, slots: make(chan struct{}, r.opts.MaxOpenFiles)}
	g, gctx := errgroup.WithContext(ctx)

	// The openers stop when the readers are done, whatever is left. Each
	// directory goes to one opener: creating a file locks its directory,
	// so openers only run in parallel on different directories.
	octx, stopOpeners := context.WithCancel(gctx)
	var openers sync.WaitGroup
	queues := make([]chan *fileJob, r.opts.Writers)
	for i := range queues {
		queues[i] = make(chan *fileJob, 64)
		openers.Go(func() {
			for job := range queues[i] {
				if octx.Err() == nil {
					p.openAhead(octx, job)
				}
			}
		})
	}
	openers.Go(func() {
		defer func() {
			for _, q := range queues {
				close(q)
			}
		}()
		for _, job := range r.files {
			h := fnv.New32a()
			_, _ = h.Write([]byte(filepath.Dir(job.path)))
			select {
			case queues[h.Sum32()%uint32(len(queues))] <- job:
			case <-octx.Done():
				return
			}
		}
	})

	packs := make(chan []*planned)
	g.Go(func() error {
		defer close(packs)
		for _, pid := range r.plan.order {
			blobs := packBlobs(r.plan.packs[pid])
			delete(r.plan.packs, pid) // let the collector have the map
			select {
			case packs <- blobs:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range r.opts.Workers {
		g.Go(func() error {
			stream := r.repo.StreamPack
			if br, ok := r.repo.(bufferedRepo); ok {
				// One set of decode buffers per reader, for good.
				buf := repository.NewStreamBuffer()
				stream = func(ctx context.Context, blobs []blob.PackedBlob, fn func(blob.PackedBlob, []byte, error) error) error {
					return br.StreamPackWith(ctx, buf, blobs, fn)
				}
			}
			for blobs := range packs {
				p.restorePack(gctx, stream, blobs)
			}
			return nil
		})
	}
	err := g.Wait()
	stopOpeners()
	openers.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		// Jobs with nothing to write that no opener reached.
		for _, job := range r.files {
			if job.ready {
				p.finish(job)
			}
		}
	}
	// Files left incomplete (cancelled, or a pack failed as a whole) keep
	// their temporary file, for a later restore to resume.
	for _, job := range r.files {
		job.mu.Lock()
		p.closeFd(job)
		job.mu.Unlock()
	}
	return err
}

// bufferedRepo is a Repo whose pack streaming can use the caller's
// buffers.
type bufferedRepo interface {
	StreamPackWith(ctx context.Context, buf *repository.StreamBuffer, blobs []blob.PackedBlob, fn func(loc blob.PackedBlob, plain []byte, err error) error) error
}

type streamFunc func(ctx context.Context, blobs []blob.PackedBlob, fn func(loc blob.PackedBlob, plain []byte, err error) error) error

type pipeline struct {
	r *Restorer
	// slots holds one token per file opened ahead by an opener.
	slots chan struct{}
	// open counts the descriptors open now.
	open atomic.Int64
}

// openAhead creates job's temporary file before its first chunk comes, or
// finishes a job that has nothing to write.
func (p *pipeline) openAhead(ctx context.Context, job *fileJob) {
	if job.ready {
		p.finish(job)
		return
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	if job.done || job.fd >= 0 {
		<-p.slots
		return
	}
	if err := p.ensureOpen(job); err != nil {
		<-p.slots
		p.failLocked(job, err)
		return
	}
	job.slot = true
}

// packBlobs lists the planned blobs of one pack in pack order.
func packBlobs(byBlob map[blob.Handle]*planned) []*planned {
	out := make([]*planned, 0, len(byBlob))
	for _, pl := range byBlob {
		out = append(out, pl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].loc.Offset < out[j].loc.Offset })
	return out
}

// restorePack streams the chunks of one pack (blobs in pack order) into
// their files.
func (p *pipeline) restorePack(ctx context.Context, stream streamFunc, blobs []*planned) {
	r := p.r
	locs := make([]blob.PackedBlob, len(blobs))
	for i, pl := range blobs {
		locs[i] = pl.loc
	}
	delivered := make([]bool, len(blobs))
	err := stream(ctx, locs, func(loc blob.PackedBlob, plain []byte, err error) error {
		i := sort.Search(len(blobs), func(i int) bool { return blobs[i].loc.Offset >= loc.Offset })
		if i == len(blobs) || blobs[i].loc.Handle != loc.Handle {
			return fmt.Errorf("pack %v streamed blob %v, which was not asked for", loc.PackID.Str(), loc.Handle)
		}
		delivered[i] = true
		zero := -1 // not looked at yet
		for _, t := range blobs[i].targets {
			if err != nil {
				p.fail(t.job, err)
				continue
			}
			hole := false
			if r.opts.Sparse && t.job.fresh {
				if zero < 0 {
					zero = 0
					if allZero(plain) {
						zero = 1
					}
				}
				hole = zero == 1
			}
			p.write(t, plain, hole)
		}
		return ctx.Err()
	})
	if err == nil || ctx.Err() != nil {
		return
	}
	for i, pl := range blobs {
		if delivered[i] {
			continue
		}
		for _, t := range pl.targets {
			p.fail(t.job, err)
		}
	}
}

// write puts one chunk in place (or leaves a hole) and finishes the file
// after its last one.
func (p *pipeline) write(t target, plain []byte, hole bool) {
	r, job := p.r, t.job
	if !hole {
		job.mu.Lock()
		if job.done {
			job.mu.Unlock()
			return
		}
		err := p.ensureOpen(job)
		if err == nil {
			err = pwriteAll(job.fd, plain, t.offset)
		}
		if err != nil {
			p.failLocked(job, err)
			job.mu.Unlock()
			return
		}
		if !job.slot && p.open.Load() > int64(cap(p.slots)) && job.remaining.Load() > 1 {
			p.closeFd(job) // reopened for its next chunk
		}
		job.mu.Unlock()
		r.count(func(s *Summary) { s.BytesWritten += uint64(len(plain)) })
	}
	// Counted as written also for holes left in a sparse file.
	job.written.Add(uint64(len(plain)))
	r.prog.AddBytes(uint64(len(plain)))
	if job.remaining.Add(-1) == 0 {
		p.finish(job)
	}
}

// ensureOpen opens job's temporary file, creating it for a fresh job.
// job.mu is held.
func (p *pipeline) ensureOpen(job *fileJob) error {
	if job.fd >= 0 {
		return nil
	}
	flags := unix.O_WRONLY | unix.O_CLOEXEC
	create := job.fresh && !job.created
	if create {
		flags |= unix.O_CREAT | unix.O_TRUNC
	}
	fd, err := unix.Open(job.tmp(), flags, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: job.tmp(), Err: err}
	}
	job.fd = fd
	p.open.Add(1)
	if create {
		job.created = true
		if p.r.opts.Sparse && job.meta.size > 0 {
			// Holes at the end need the size set.
			if err := unix.Ftruncate(fd, int64(job.meta.size)); err != nil {
				return &os.PathError{Op: "truncate", Path: job.tmp(), Err: err}
			}
		}
	}
	return nil
}

// closeFd closes job's descriptor and gives back its slot. job.mu is held.
func (p *pipeline) closeFd(job *fileJob) {
	if job.fd < 0 {
		return
	}
	_ = unix.Close(job.fd)
	job.fd = -1
	p.open.Add(-1)
	if job.slot {
		job.slot = false
		<-p.slots
	}
}

// fail reports a file once and drops its temporary file.
func (p *pipeline) fail(job *fileJob, err error) {
	job.mu.Lock()
	p.failLocked(job, err)
	job.mu.Unlock()
}

func (p *pipeline) failLocked(job *fileJob, err error) {
	if job.done {
		return
	}
	job.done = true
	job.failed.Store(true)
	p.closeFd(job)
	_ = os.Remove(job.tmp())
	p.r.fail(job.path, err)
}

// finish applies a complete file's metadata on its descriptor, closes it
// and renames it into place.
func (p *pipeline) finish(job *fileJob) {
	r := p.r
	job.mu.Lock()
	if job.done {
		job.mu.Unlock()
		return
	}
	if err := p.ensureOpen(job); err != nil {
		p.failLocked(job, err)
		job.mu.Unlock()
		return
	}
	merr := r.applyMetadataFd(job.fd, &job.meta, job.inNew && r.newOwned)
	p.closeFd(job)
	// unix.Rename, not os.Rename: that one looks at the new name first.
	if err := unix.Rename(job.tmp(), job.path); err != nil {
		p.failLocked(job, &os.LinkError{Op: "rename", Old: job.tmp(), New: job.path, Err: err})
		job.mu.Unlock()
		return
	}
	job.done = true
	job.mu.Unlock()
	if merr != nil {
		r.fail(job.path, merr)
	}
	r.count(func(s *Summary) { s.Files++; s.Bytes += job.meta.size })
	written := job.written.Load()
	switch {
	case job.existed && written == 0:
		// Every chunk was already in place: restic calls that unchanged.
		r.prog.AddSkipped(1, job.meta.size)
		r.event("unchanged", job.path, job.meta.size)
	default:
		r.prog.AddFiles(1)
		// Chunks that were already in place count as skipped bytes.
		r.prog.AddSkipped(0, job.meta.size-min(written, job.meta.size))
		action := "restored"
		if job.existed {
			action = "updated"
		}
		r.event(action, job.path, job.meta.size)
	}
}

func pwriteAll(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("write at %d: %w", off, err)
		}
		if n == 0 {
			return fmt.Errorf("write at %d: %w", off, unix.EIO)
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}
