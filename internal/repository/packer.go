package repository

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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

// packerPool hands out open pack writers of one blob type. Several writers
// are open at once so that concurrent savers seal straight into packs
// without waiting for each other; blobs land in whichever is free, which
// also spreads them across packs as restic ≥ 0.18 does.
type packerPool struct {
	free chan *pack.Writer // open writers not in use
}

// uploadJob is a finished pack on its way to the backend.
type uploadJob struct {
	w   *pack.Writer
	raw []byte
	typ blob.Type
}

// writer is the write side of a repository, created by StartWriting.
type writer struct {
	r        *Repository
	dryRun   bool
	packSize int
	pools    map[blob.Type]*packerPool
	uploads  chan uploadJob
	done     chan struct{} // closed when the upload workers have stopped
	bufs     sync.Pool     // *[]byte pack buffers

	mu       sync.Mutex
	inflight map[blob.Handle]struct{} // saved but not yet in the index; guarded by mu
	pending  *index.File              // uploaded packs not yet in an index file; guarded by mu
	pendingN int                      // blobs in pending; guarded by mu
	started  time.Time                // when pending was begun; guarded by mu
	err      error                    // first upload error; guarded by mu
	stats    WriteStats               // guarded by mu
}

// WriteStats counts what a writer stored.
type WriteStats struct {
	DataBlobs, TreeBlobs int
	// DataAdded is plaintext bytes of new blobs; DataAddedPacked is what
	// they take in packs (compressed and encrypted).
	DataAdded, DataAddedPacked uint64
	Packs                      int
}

// WriteOptions control a write session.
type WriteOptions struct {
	// PackSize is the target pack size in bytes; 0 means DefaultPackSize.
	PackSize int
	// DryRun does all the work but stores nothing: no packs, no index.
	DryRun bool
}

// StartWriting prepares the repository for SaveBlob. The index must have
// been loaded (LoadIndex) so that known blobs are not stored again. Upload
// workers run until Finish; ctx bounds them.
func (r *Repository) StartWriting(ctx context.Context, o WriteOptions) error {
	packSize := o.PackSize
	if r.idx.Load() == nil {
		return fmt.Errorf("start writing: index not loaded")
	}
	if r.w != nil {
		return fmt.Errorf("start writing: already started")
	}
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
		pools:    make(map[blob.Type]*packerPool),
		uploads:  make(chan uploadJob, conns),
		done:     make(chan struct{}),
		inflight: make(map[blob.Handle]struct{}),
		pending:  &index.File{},
		started:  time.Now(),
	}
	for _, t := range []blob.Type{blob.Data, blob.Tree} {
		p := &packerPool{free: make(chan *pack.Writer, 2)}
		for range cap(p.free) {
			p.free <- w.newPacker()
		}
		w.pools[t] = p
	}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() { w.uploadLoop(ctx) })
	}
	go func() { wg.Wait(); close(w.done) }()
	r.w = w
	return nil
}

func (w *writer) newPacker() *pack.Writer {
	if v := w.bufs.Get(); v != nil {
		pw := v.(*pack.Writer)
		pw.Reset()
		return pw
	}
	return pack.NewWriter(w.r.key, make([]byte, 0, w.packSize+w.packSize/8))
}

// SaveBlob stores a blob unless the repository already has it (or it is
// being stored). bid may be the zero ID, in which case it is computed.
// known reports whether the blob was already there; size is the bytes it
// added to packs (0 when known). SaveBlob is safe for concurrent use and
// does not keep plain after it returns.
func (r *Repository) SaveBlob(ctx context.Context, t blob.Type, plain []byte, bid id.ID) (_ id.ID, known bool, size int, err error) {
	w := r.w
	if w == nil {
		return id.ID{}, false, 0, fmt.Errorf("save blob: StartWriting not called")
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

	pool := w.pools[t]
	var pw *pack.Writer
	select {
	case pw = <-pool.free:
	case <-ctx.Done():
		return id.ID{}, false, 0, ctx.Err()
	}
	err = pw.AddSealing(h, payload, ulen)
	if errors.Is(err, pack.ErrFull) {
		// The header is full before the size target (many tiny blobs):
		// ship this pack and start another.
		full := pw
		pw = w.newPacker()
		if err := w.queue(ctx, full, t); err != nil {
			pool.free <- pw
			return id.ID{}, false, 0, err
		}
		err = pw.AddSealing(h, payload, ulen)
	}
	if err != nil {
		pool.free <- pw
		return id.ID{}, false, 0, fmt.Errorf("save blob %v: %w", h, err)
	}
	if pw.Size() < w.packSize {
		pool.free <- pw
	} else {
		pool.free <- w.newPacker()
		if err := w.queue(ctx, pw, t); err != nil {
			return id.ID{}, false, 0, err
		}
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

// compressBlob returns what goes into the pack for plain: its zstd frame
// (and the plaintext length) when the repository compresses this type and
// compression helps, else plain itself. release returns the buffer.
func (r *Repository) compressBlob(t blob.Type, plain []byte) (payload []byte, ulen uint32, release func()) {
	if r.cfg.Version < 2 || len(plain) == 0 || (t == blob.Data && r.opts.Compression == CompressionOff) {
		return plain, 0, func() {}
	}
	bp := compressBufs.Get().(*[]byte)
	out := r.codec.compress((*bp)[:0], plain)
	release = func() { *bp = out[:0]; compressBufs.Put(bp) }
	if len(out) >= len(plain) {
		// Incompressible: storing it raw is smaller and faster to read.
		return plain, 0, release
	}
	return out, uint32(len(plain)), release
}

var compressBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// queue finishes a full pack and hands it to the upload workers.
func (w *writer) queue(ctx context.Context, pw *pack.Writer, t blob.Type) error {
	raw, err := pw.Finish()
	if err != nil {
		return fmt.Errorf("finish pack: %w", err)
	}
	select {
	case w.uploads <- uploadJob{w: pw, raw: raw, typ: t}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *writer) uploadLoop(ctx context.Context) {
	for job := range w.uploads {
		if err := w.upload(ctx, job); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
		w.bufs.Put(job.w)
	}
}

func (w *writer) upload(ctx context.Context, job uploadJob) error {
	w.mu.Lock()
	failed := w.err != nil
	w.mu.Unlock()
	if failed {
		return nil
	}
	pid := id.ID(sha256.Sum256(job.raw))
	h := backend.Handle{Type: backend.PackFile, Name: pid.String()}
	if !w.dryRun {
		if err := w.r.be.Save(ctx, h, backend.NewByteReader(job.raw)); err != nil {
			return fmt.Errorf("save pack %v: %w", pid.Str(), err)
		}
	}
	p := index.Pack{ID: pid}
	for _, b := range job.w.Blobs() {
		p.Blobs = append(p.Blobs, index.Blob{ID: b.ID, Type: b.Type, Offset: b.Offset, Length: b.Length, UncompressedLength: b.UncompressedLength})
	}
	w.r.idx.Load().AddPack(p)

	w.mu.Lock()
	for _, b := range p.Blobs {
		delete(w.inflight, blob.Handle{ID: b.ID, Type: b.Type})
	}
	w.pending.Packs = append(w.pending.Packs, p)
	w.pendingN += len(p.Blobs)
	w.stats.Packs++
	var full *index.File
	if w.pendingN >= indexFullBlobs || time.Since(w.started) >= indexFullAge {
		full = w.takePending()
	}
	w.mu.Unlock()
	if full != nil {
		return w.saveIndex(ctx, full)
	}
	return nil
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
		return WriteStats{}, fmt.Errorf("finish: StartWriting not called")
	}
	r.w = nil
	var firstErr error
	if ctx.Err() == nil {
		for _, t := range []blob.Type{blob.Data, blob.Tree} {
			pool := w.pools[t]
			for range cap(pool.free) {
				pw := <-pool.free
				if pw.Count() == 0 {
					continue
				}
				if err := w.queue(ctx, pw, t); err != nil && firstErr == nil {
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
