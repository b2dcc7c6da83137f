package restorer

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cairn-backup/cairn/internal/blob"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// The file pipeline: Options.Workers readers each take one pack at a time
// (in plan order) and decode its blobs; every chunk that a file needs is
// copied into a buffer from a pool bounded by Options.WriteBuffer and
// handed to the writer that owns the file. Options.Writers writers create
// the temporary files, write, apply metadata on the open descriptor and
// rename each file into place when its last chunk is in. Files are spread
// over the writers round-robin in walk order, so the many small files of
// one pack are created in parallel (creating a file costs far more kernel
// time than writing a small one), and each file's chunks stay in order on
// one goroutine with no lock.

// taskKind says what a writer does with a task.
type taskKind uint8

const (
	taskWrite  taskKind = iota // write data at offset
	taskHole                   // a run of zeros left as a hole (sparse)
	taskFail                   // the chunk could not be read: the file fails
	taskFinish                 // nothing to write: only finish the file
)

// task is one piece of work for a file's writer.
type task struct {
	kind   taskKind
	job    *fileJob
	offset int64
	n      int64    // chunk length
	buf    *dataBuf // the data of a taskWrite, released after the write
	err    error    // for taskFail
}

// restoreFiles reads every planned pack once and writes its chunks.
func (r *Restorer) restoreFiles(ctx context.Context) error {
	pool := newBufPool(r.opts.WriteBuffer)
	queues := make([]chan task, r.opts.Writers)
	var writers sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan task, 256)
		w := &writer{r: r, maxOpen: max(1, r.opts.MaxOpenFiles/r.opts.Writers)}
		writers.Add(1)
		go func(q <-chan task) {
			defer writers.Done()
			w.run(q)
		}(queues[i])
	}
	send := func(t task) { queues[t.job.writer] <- t }

	packs := make(chan map[blob.Handle]*planned)
	g, gctx := errgroup.WithContext(ctx)
	for range r.opts.Workers {
		g.Go(func() error {
			for byBlob := range packs {
				r.restorePack(gctx, byBlob, pool, send)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(packs)
		for _, job := range r.ready {
			send(task{kind: taskFinish, job: job})
		}
		for _, pid := range r.plan.order {
			select {
			case packs <- r.plan.packs[pid]:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	err := g.Wait()
	for _, q := range queues {
		close(q)
	}
	writers.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// restorePack streams the chunks of one pack to their writers.
func (r *Restorer) restorePack(ctx context.Context, byBlob map[blob.Handle]*planned, pool *bufPool, send func(task)) {
	locs := make([]blob.PackedBlob, 0, len(byBlob))
	for _, pl := range byBlob {
		locs = append(locs, pl.loc)
	}
	delivered := make(map[blob.Handle]bool, len(byBlob))
	err := r.repo.StreamPack(ctx, locs, func(loc blob.PackedBlob, plain []byte, err error) error {
		delivered[loc.Handle] = true
		targets := byBlob[loc.Handle].targets
		if err != nil {
			for _, t := range targets {
				send(task{kind: taskFail, job: t.job, err: err})
			}
			return ctx.Err()
		}
		n := int64(len(plain))
		zero := -1 // unknown
		var buf *dataBuf
		for _, t := range targets {
			if r.opts.Sparse && t.job.fresh {
				if zero < 0 {
					zero = 0
					if allZero(plain) {
						zero = 1
					}
				}
				if zero == 1 {
					send(task{kind: taskHole, job: t.job, offset: t.offset, n: n})
					continue
				}
			}
			if buf == nil {
				buf = pool.get(len(plain))
				copy(buf.b, plain)
			}
			buf.refs.Add(1)
			send(task{kind: taskWrite, job: t.job, offset: t.offset, n: n, buf: buf})
		}
		if buf != nil {
			buf.release() // the reference get gave us
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
			send(task{kind: taskFail, job: t.job, err: err})
		}
	}
}

// writer owns the files whose jobs name it.
type writer struct {
	r       *Restorer
	open    map[*fileJob]struct{} // jobs with an open descriptor
	maxOpen int                   // descriptors this writer keeps open
}

func (w *writer) run(q <-chan task) {
	w.open = map[*fileJob]struct{}{}
	for t := range q {
		w.handle(t)
	}
	// Files left incomplete (cancelled, or a pack failed as a whole) keep
	// their temporary file, for a later restore to resume.
	for job := range w.open {
		w.close(job)
	}
}

func (w *writer) handle(t task) {
	r, job := w.r, t.job
	if t.buf != nil {
		defer t.buf.release()
	}
	if job.failed.Load() {
		return
	}
	switch t.kind {
	case taskFail:
		w.fail(job, t.err)
		return
	case taskFinish:
		w.finish(job)
		return
	case taskWrite:
		if err := w.ensureOpen(job); err != nil {
			w.fail(job, err)
			return
		}
		if err := pwriteAll(job.fd, t.buf.b[:t.n], t.offset); err != nil {
			w.fail(job, err)
			return
		}
		r.count(func(s *Summary) { s.BytesWritten += uint64(t.n) })
	}
	// Counted as written also for holes left in a sparse file.
	job.written.Add(uint64(t.n))
	r.prog.AddBytes(uint64(t.n))
	job.remaining--
	if job.remaining <= 0 {
		w.finish(job)
		return
	}
	if job.fd >= 0 && len(w.open) > w.maxOpen {
		w.close(job) // reopened when its next chunk comes
	}
}

// ensureOpen opens job's temporary file, creating it for a fresh job.
func (w *writer) ensureOpen(job *fileJob) error {
	if job.fd >= 0 {
		return nil
	}
	flags := unix.O_WRONLY | unix.O_CLOEXEC
	if job.fresh && !job.created {
		flags |= unix.O_CREAT | unix.O_TRUNC
	}
	fd, err := unix.Open(job.tmp, flags, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: job.tmp, Err: err}
	}
	job.fd = fd
	w.open[job] = struct{}{}
	if job.fresh && !job.created {
		job.created = true
		if w.r.opts.Sparse && job.node.Size > 0 {
			// Holes at the end need the size set.
			if err := unix.Ftruncate(fd, int64(job.node.Size)); err != nil {
				return &os.PathError{Op: "truncate", Path: job.tmp, Err: err}
			}
		}
	}
	return nil
}

func (w *writer) close(job *fileJob) {
	if job.fd >= 0 {
		_ = unix.Close(job.fd)
		job.fd = -1
	}
	delete(w.open, job)
}

// fail reports a file once and drops its temporary file.
func (w *writer) fail(job *fileJob, err error) {
	if job.failed.Swap(true) {
		return
	}
	w.r.fail(job.path, err)
	delete(w.open, job)
	job.discard()
}

// finish applies a complete file's metadata, closes it and renames it
// into place.
func (w *writer) finish(job *fileJob) {
	r := w.r
	if err := w.ensureOpen(job); err != nil {
		w.fail(job, err)
		return
	}
	merr := r.applyMetadataFd(job.fd, job.node)
	w.close(job)
	if err := os.Rename(job.tmp, job.path); err != nil {
		w.fail(job, err)
		return
	}
	if merr != nil {
		r.fail(job.path, merr)
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

// dataBuf is one chunk's plaintext on its way to the writers, shared by
// the files that need the chunk.
type dataBuf struct {
	b    []byte
	refs atomic.Int32
	pool *bufPool
}

func (b *dataBuf) release() {
	if b.refs.Add(-1) == 0 {
		b.pool.put(b)
	}
}

// bufPool hands out chunk buffers in power-of-two size classes and caps the
// bytes out at once: a reader waits when the writers fall behind.
type bufPool struct {
	mu      sync.Mutex
	cond    sync.Cond
	out     int // bytes of capacity handed out, guarded by mu
	limit   int
	classes [32]sync.Pool
}

func newBufPool(limit int) *bufPool {
	p := &bufPool{limit: limit}
	p.cond.L = &p.mu
	return p
}

const minBufClass = 12 // 4 KiB

func (p *bufPool) get(n int) *dataBuf {
	class := max(minBufClass, bits.Len(uint(max(n, 1)-1)))
	size := 1 << class
	p.mu.Lock()
	// One buffer larger than the limit still goes when nothing else is out.
	for p.out > 0 && p.out+size > p.limit {
		p.cond.Wait()
	}
	p.out += size
	p.mu.Unlock()
	b, _ := p.classes[class].Get().(*dataBuf)
	if b == nil {
		b = &dataBuf{b: make([]byte, size), pool: p}
	}
	b.b = b.b[:n]
	b.refs.Store(1)
	return b
}

func (p *bufPool) put(b *dataBuf) {
	size := cap(b.b)
	p.classes[bits.Len(uint(size-1))].Put(b)
	p.mu.Lock()
	p.out -= size
	p.mu.Unlock()
	p.cond.Broadcast()
}
