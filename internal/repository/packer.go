package repository

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/pack"
)

// Pack size limits in bytes, as restic's --pack-size (MiB) allows.
const (
	DefaultPackSize = 16 << 20
	MinPackSize     = 4 << 20
	MaxPackSize     = 128 << 20
)

// Index files are written once they hold this many blobs or are this old.
const (
	indexFullBlobs = 50000
	indexFullAge   = 10 * time.Minute
)

// openPacksPerType is how many packs of each blob type are open at once.
// Concurrent savers each take a free one, so they seal without waiting for
// each other, and blobs spread over several packs as restic ≥ 0.18 does
// against chunk-size fingerprinting.
const openPacksPerType = 2

// packWriteBuffer is the write size into a pack file. Blobs are sealed
// in pieces of 256 KiB, which bufio passes on without copying once its
// buffer is empty. A 1 MiB buffer (every byte copied, 1 MiB writes) cost
// 2.3-4.1 s of sys time against 1.8 s for 64 KiB on the 2 GiB bench set.
const packWriteBuffer = 64 << 10

// WriteOptions control a write session.
type WriteOptions struct {
	// PackSize is the target pack size in bytes; 0 means DefaultPackSize.
	PackSize int
	// DryRun does all the work but stores nothing: no packs, no index.
	DryRun bool
}

// WriteStats counts what a write session stored.
type WriteStats struct {
	DataBlobs, TreeBlobs int
	// DataAdded is plaintext bytes of new blobs; DataAddedPacked is what
	// they take in packs (compressed and encrypted).
	DataAdded, DataAddedPacked uint64
	Packs                      int
}

// packer is one open pack: its blobs stream into a temporary file (on the
// local backend, inside the repository, so that upload is a rename), and
// only the header entries stay in memory.
type packer struct {
	t    blob.Type
	pw   *pack.Writer
	f    *os.File // nil until the first blob, and in dry runs
	bw   *bufio.Writer
	size int
}

// uploadJob is a finished pack on its way to the backend.
type uploadJob struct {
	t     blob.Type
	id    id.ID
	f     *os.File // nil in dry runs
	size  int
	blobs []blob.Blob
}

// writer is the write side of a repository, between StartWriting and
// Finish.
type writer struct {
	r        *Repository
	dryRun   bool
	packSize int
	mover    backend.FileMover // nil if the backend cannot adopt local files
	free     map[blob.Type]chan *packer
	uploads  chan uploadJob
	done     chan struct{} // closed when the upload workers have stopped

	mu       sync.Mutex
	inflight map[blob.Handle]struct{} // saved but not yet in the index; guarded by mu
	pending  *index.File              // uploaded packs not yet in an index file; guarded by mu
	pendingN int                      // blobs in pending; guarded by mu
	started  time.Time                // when pending was begun; guarded by mu
	err      error                    // first upload error; guarded by mu
	stats    WriteStats               // guarded by mu
}

// StartWriting prepares the repository for SaveBlob. The index must have
// been loaded (LoadIndex) so that known blobs are not stored again. Upload
// workers run until Finish; ctx bounds them.
func (r *Repository) StartWriting(ctx context.Context, o WriteOptions) error {
	if r.idx.Load() == nil {
		return errors.New("start writing: index not loaded")
	}
	if r.w != nil {
		return errors.New("start writing: already started")
	}
	packSize := o.PackSize
	if packSize == 0 {
		packSize = DefaultPackSize
	}
	if packSize < MinPackSize || packSize > MaxPackSize {
		return fmt.Errorf("pack size %d MiB out of range (%d to %d MiB)", packSize>>20, MinPackSize>>20, MaxPackSize>>20)
	}
	conns := max(1, r.be.Properties().Connections)
	w := &writer{
		r:        r,
		dryRun:   o.DryRun,
		packSize: packSize,
		free:     make(map[blob.Type]chan *packer),
		uploads:  make(chan uploadJob, conns),
		done:     make(chan struct{}),
		inflight: make(map[blob.Handle]struct{}),
		pending:  &index.File{},
		started:  time.Now(),
	}
	w.mover, _ = backend.As[backend.FileMover](r.be)
	for _, t := range []blob.Type{blob.Data, blob.Tree} {
		ch := make(chan *packer, openPacksPerType)
		for range openPacksPerType {
			ch <- &packer{t: t, pw: pack.NewWriter(r.key, io.Discard), bw: bufio.NewWriterSize(nil, packWriteBuffer)}
		}
		w.free[t] = ch
	}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() { w.uploadLoop(ctx) })
	}
	go func() { wg.Wait(); close(w.done) }()
	r.w = w
	return nil
}

// open starts a new pack file for p.
func (w *writer) open(p *packer) error {
	if w.dryRun {
		p.pw.Reset(io.Discard)
		return nil
	}
	var err error
	if w.mover != nil {
		p.f, err = w.mover.TempFile(backend.PackFile)
	} else {
		p.f, err = os.CreateTemp("", "cairn-temp-pack-")
		if err == nil {
			// Read and written through the descriptor only: unlinked at
			// once, it cannot outlive a killed process.
			err = os.Remove(p.f.Name())
			if err != nil {
				_ = p.f.Close()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("create pack file: %w", err)
	}
	p.bw.Reset(p.f)
	p.pw.Reset(p.bw)
	return nil
}

// discard drops p's unfinished pack file.
func (p *packer) discard() {
	if p.f != nil {
		_ = p.f.Close()
		_ = os.Remove(p.f.Name())
		p.f = nil
	}
	p.pw.Reset(io.Discard)
}

// SaveBlob stores a blob unless the repository already has it (or it is
// being stored). bid may be the zero ID, in which case it is computed.
// known reports whether the blob was already there; size is the bytes it
// added to packs (0 when known). SaveBlob is safe for concurrent use, does
// not keep plain after it returns, and must not be called after (or
// during) Finish.
func (r *Repository) SaveBlob(ctx context.Context, t blob.Type, plain []byte, bid id.ID) (_ id.ID, known bool, size int, err error) {
	w := r.w
	if w == nil {
		return id.ID{}, false, 0, errors.New("save blob: StartWriting not called")
	}
	if bid.IsNull() {
		bid = sha256.Sum256(plain)
	}
	h := blob.Handle{ID: bid, Type: t}
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return id.ID{}, false, 0, err
	}
	if _, ok := w.inflight[h]; ok || r.idx.Load().Has(h) {
		w.mu.Unlock()
		return bid, true, 0, nil
	}
	w.inflight[h] = struct{}{}
	w.mu.Unlock()

	payload, ulen, release := r.compressBlob(t, plain)
	defer release()
	size = len(payload) + crypto.Overhead

	var p *packer
	select {
	case p = <-w.free[t]:
	case <-ctx.Done():
		return id.ID{}, false, 0, ctx.Err()
	}
	defer func() { w.free[t] <- p }()
	if err := w.add(ctx, p, h, payload, ulen); err != nil {
		return id.ID{}, false, 0, err
	}

	w.mu.Lock()
	if t == blob.Data {
		w.stats.DataBlobs++
	} else {
		w.stats.TreeBlobs++
	}
	w.stats.DataAdded += uint64(len(plain))
	w.stats.DataAddedPacked += uint64(size)
	w.mu.Unlock()
	return bid, false, size, nil
}

// add seals a blob into p, shipping p's pack when it is full.
func (w *writer) add(ctx context.Context, p *packer, h blob.Handle, payload []byte, ulen uint32) error {
	if p.pw.Count() > 0 && len(payload)+crypto.Overhead >= w.packSize {
		// A blob as big as a pack gets a pack of its own, as in restic.
		if err := w.queue(ctx, p); err != nil {
			return err
		}
	}
	if p.pw.Count() == 0 {
		if err := w.open(p); err != nil {
			return err
		}
	}
	err := p.pw.AddSealing(h, payload, ulen)
	if errors.Is(err, pack.ErrFull) {
		// The header is full before the size target (many tiny blobs):
		// ship this pack and start another.
		if err := w.queue(ctx, p); err != nil {
			return err
		}
		if err := w.open(p); err != nil {
			return err
		}
		err = p.pw.AddSealing(h, payload, ulen)
	}
	if err != nil {
		p.discard()
		return fmt.Errorf("save blob %v: %w", h, err)
	}
	if p.pw.Size() >= w.packSize {
		return w.queue(ctx, p)
	}
	return nil
}

// compressBlob returns what goes into the pack for plain: its zstd frame
// (and the plaintext length) when the repository compresses this type and
// compression helps, else plain itself. release returns the buffer.
func (r *Repository) compressBlob(t blob.Type, plain []byte) (payload []byte, ulen uint32, release func()) {
	if r.cfg.Version < 2 || len(plain) == 0 || (t == blob.Data && r.opts.Compression == CompressionOff) {
		return plain, 0, func() {}
	}
	bp := compressBufs.Get().(*[]byte)
	if t == blob.Data && !r.codec.worthCompressing(plain, *bp) {
		compressBufs.Put(bp)
		return plain, 0, func() {}
	}
	out := r.codec.compress((*bp)[:0], plain)
	release = func() { *bp = out[:0]; compressBufs.Put(bp) }
	if len(out) >= len(plain) {
		// Incompressible: storing it raw is smaller and faster to read.
		return plain, 0, release
	}
	return out, uint32(len(plain)), release
}

var compressBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// queue finishes p's pack and hands it to the upload workers; p is empty
// afterwards.
func (w *writer) queue(ctx context.Context, p *packer) error {
	pid, err := p.pw.Finish()
	if err == nil && p.f != nil {
		err = p.bw.Flush()
	}
	if err != nil {
		p.discard()
		return fmt.Errorf("finish pack: %w", err)
	}
	job := uploadJob{t: p.t, id: pid, f: p.f, size: p.pw.Size(), blobs: p.pw.Blobs()}
	p.f = nil
	p.pw.Reset(io.Discard)
	select {
	case w.uploads <- job:
		return nil
	case <-ctx.Done():
		// The pack holds blobs earlier calls reported as saved: the
		// session cannot succeed any more.
		job.discard()
		w.fail(ctx.Err())
		return ctx.Err()
	}
}

// fail records the first error that ends the session.
func (w *writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (j uploadJob) discard() {
	if j.f != nil {
		_ = j.f.Close()
		_ = os.Remove(j.f.Name())
	}
}

func (w *writer) uploadLoop(ctx context.Context) {
	for job := range w.uploads {
		if err := w.upload(ctx, job); err != nil {
			w.fail(err)
		}
	}
}

// upload stores a finished pack and records its blobs in the index.
func (w *writer) upload(ctx context.Context, job uploadJob) error {
	w.mu.Lock()
	failed := w.err != nil
	w.mu.Unlock()
	if failed {
		job.discard()
		return nil
	}
	h := backend.Handle{Type: backend.PackFile, Name: job.id.String()}
	if !w.dryRun {
		if err := w.r.waitWriteGate(ctx); err != nil {
			job.discard()
			return err
		}
		var err error
		if w.mover != nil {
			// MoveFile takes the file: cache it first. Should the move
			// fail, the entry is for a pack no index names, which cache
			// cleanup removes.
			w.keepInCache(ctx, h, job)
			err = w.mover.MoveFile(ctx, h, job.f)
		} else {
			rd := backend.NewFileReader(job.f, int64(job.size))
			if err = rd.Rewind(); err == nil {
				err = w.r.be.Save(ctx, h, rd)
			}
			if err == nil {
				w.keepInCache(ctx, h, job)
			}
			job.discard()
		}
		if err != nil {
			return fmt.Errorf("save pack %v: %w", job.id.Str(), err)
		}
	}
	w.mu.Lock()
	w.stats.Packs++
	w.mu.Unlock()
	if w.dryRun {
		// Nothing was stored: the blobs stay in flight (known for the
		// rest of this session) and never reach the index.
		return nil
	}
	p := index.Pack{ID: job.id, Blobs: job.blobs} // Writer.Blobs made the slice ours
	w.r.idx.Load().AddPack(p)

	w.mu.Lock()
	for _, b := range p.Blobs {
		delete(w.inflight, b.Handle)
	}
	w.pending.Packs = append(w.pending.Packs, p)
	w.pendingN += len(p.Blobs)
	var full *index.File
	if w.pendingN >= indexFullBlobs || time.Since(w.started) >= indexFullAge {
		full = w.takePending()
	}
	w.mu.Unlock()
	if full != nil {
		if err := w.saveIndex(ctx, full); err != nil {
			// Keep the packs pending, so that Finish indexes them.
			w.mu.Lock()
			w.pending.Packs = append(full.Packs, w.pending.Packs...)
			for _, fp := range full.Packs {
				w.pendingN += len(fp.Blobs)
			}
			w.mu.Unlock()
			return err
		}
	}
	return nil
}

// keepInCache puts a new tree pack into the cache from its local file, so
// that the next backup reads it without downloading it. A cache problem
// only means it is not cached.
func (w *writer) keepInCache(ctx context.Context, h backend.Handle, job uploadJob) {
	if job.t != blob.Tree {
		return
	}
	if c, ok := backend.As[backend.Cacher](w.r.be); ok {
		_ = c.Keep(ctx, h, backend.NewFileReader(job.f, int64(job.size)))
	}
}

// takePending returns the pending index and starts a new one. mu must be
// held.
func (w *writer) takePending() *index.File {
	f := w.pending
	w.pending, w.pendingN, w.started = &index.File{}, 0, time.Now()
	return f
}

func (w *writer) saveIndex(ctx context.Context, f *index.File) error {
	if len(f.Packs) == 0 || w.dryRun {
		return nil
	}
	doc, err := index.Encode(f)
	if err != nil {
		return err
	}
	if _, err := w.r.SaveUnpacked(ctx, backend.IndexFile, doc); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	return nil
}

// Finish uploads the open packs and writes the index for everything
// uploaded. After a failure or cancellation it still writes the index of
// the packs that did reach the backend (with a fresh one-minute context),
// so that a later run reuses them, and returns the first error. The
// repository can StartWriting again afterwards.
func (r *Repository) Finish(ctx context.Context) (WriteStats, error) {
	w := r.w
	if w == nil {
		return WriteStats{}, errors.New("finish: StartWriting not called")
	}
	r.w = nil
	var firstErr error
	for _, t := range []blob.Type{blob.Data, blob.Tree} {
		for range openPacksPerType {
			p := <-w.free[t]
			switch {
			case p.pw.Count() == 0:
			case ctx.Err() != nil || firstErr != nil:
				p.discard()
			default:
				if err := w.queue(ctx, p); err != nil {
					firstErr = err
				}
			}
		}
	}
	close(w.uploads)
	<-w.done
	w.mu.Lock()
	if w.err != nil && firstErr == nil {
		firstErr = w.err
	}
	rest := w.takePending()
	stats := w.stats
	w.mu.Unlock()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	saveCtx := ctx
	if firstErr != nil {
		var cancel context.CancelFunc
		saveCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	if err := w.saveIndex(saveCtx, rest); err != nil && firstErr == nil {
		firstErr = err
	}
	return stats, firstErr
}
