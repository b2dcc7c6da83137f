package restorer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"golang.org/x/sys/unix"
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
	path      string
	meta      fileMeta
	fresh     bool // nothing is on disk yet: the temporary file is created when needed
	existed   bool // a file was at the final name
	ready     bool // nothing to write: only to finish
	inNew     bool // in a directory this restore created
	written   atomic.Uint64
	remaining atomic.Int64 // chunks still to write
	failed    atomic.Bool

	mu      sync.Mutex
	fd      int  // open temporary file, or -1; guarded by mu
	created bool // a fresh job's temporary file exists; guarded by mu
	slot    bool // opened ahead, holding a pipeline slot; guarded by mu
	done    bool // finished or failed; guarded by mu
}

// fileMeta is what writing, finishing and verifying a file need of its
// node. A job keeps it in place of the node, which is several times its
// size (names, a third time stamp, inode numbers, ...) and would otherwise
// stay in memory for every file of the restore until the end.
type fileMeta struct {
	size         uint64
	atime, mtime int64 // Unix nanoseconds
	uid, gid     uint32
	mode         os.FileMode
	content      []id.ID   // the node's, not a copy
	rare         *rareMeta // nil for the usual file
}

// rareMeta is the part of a file's metadata that few files have or few
// restores use.
type rareMeta struct {
	user, group string // only with Options.OwnershipByName
	xattrs      []tree.ExtendedAttribute
}

// metaOf takes from n what its job needs.
func (r *Restorer) metaOf(n *tree.Node) fileMeta {
	m := fileMeta{
		size:    n.Size,
		atime:   n.AccessTime.UnixNano(),
		mtime:   n.ModTime.UnixNano(),
		uid:     n.UID,
		gid:     n.GID,
		mode:    n.Mode,
		content: n.Content,
	}
	byName := r.opts.OwnershipByName && (n.User != "" || n.Group != "")
	if byName || len(n.ExtendedAttributes) > 0 {
		m.rare = &rareMeta{xattrs: n.ExtendedAttributes}
		if byName {
			m.rare.user, m.rare.group = n.User, n.Group
		}
	}
	return m
}

// tmp is the job's temporary name, computed when needed rather than kept
// for every file, to keep the plan small.
func (job *fileJob) tmp() string { return tempName(job.path) }

// target is one place a chunk goes.
type target struct {
	job    *fileJob
	offset int64
}

// plan maps each pack to the chunks needed from it and where they go;
// order lists the packs in the order the walk first needed them, so that
// files are written front to back and complete early.
type plan struct {
	packs map[id.ID]map[blob.Handle]*planned
	order []id.ID
}

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

// planFile decides what a regular file needs and records it. inNew says
// that the file's directory was just created by this restore, so nothing
// can be in the way and the file needs no look on disk.
func (r *Restorer) planFile(p string, n *tree.Node, inNew bool) {
	var fi os.FileInfo
	statErr := error(fs.ErrNotExist)
	if !inNew {
		fi, statErr = os.Lstat(p)
	}
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
	job := &fileJob{path: p, meta: r.metaOf(n), existed: exists, fd: -1}
	if r.opts.DryRun {
		r.count(func(s *Summary) { s.Files++; s.Bytes += uint64(size) })
		r.prog.AddFiles(1)
		r.prog.AddBytes(uint64(size))
		r.event("restored", p, uint64(size))
		return
	}
	need := make([]int, len(locs))
	for i := range need {
		need[i] = i
	}
	if inNew {
		job.fresh, job.inNew = true, true
	} else {
		if err := r.prepareTemp(job, exists, statErr); err != nil {
			r.fail(p, err)
			return
		}
		if !job.fresh {
			var err error
			if need, err = r.missing(job, offsets, locs); err == nil {
				err = os.Truncate(job.tmp(), size)
			}
			if err != nil {
				r.fail(p, err)
				job.discard()
				return
			}
		}
	}
	r.files = append(r.files, job)
	job.remaining.Store(int64(len(need)))
	job.ready = len(need) == 0
	for _, i := range need {
		r.addToPlan(locs[i], target{job: job, offset: offsets[i]})
	}
}

// prepareTemp sets up job.tmp(): resumed from an interrupted restore, taken
// over from the existing final file, or (job.fresh) left for the writer
// to create.
func (r *Restorer) prepareTemp(job *fileJob, exists bool, statErr error) error {
	_, tmpErr := os.Lstat(job.tmp())
	switch {
	case exists && tmpErr == nil:
		// Both: the temporary one is stale.
		if err := os.Remove(job.tmp()); err != nil {
			return err
		}
		fallthrough
	case exists:
		// Patch the existing file under the temporary name, so that the
		// final name never holds a half-updated file.
		if err := os.Rename(job.path, job.tmp()); err != nil {
			return err
		}
		return os.Chmod(job.tmp(), 0o600)
	case tmpErr == nil:
		return os.Chmod(job.tmp(), 0o600) // resume
	}
	if statErr == nil {
		// Something else (symlink, directory, ...) is in the way.
		if err := os.RemoveAll(job.path); err != nil {
			return err
		}
	}
	job.fresh = true
	return nil
}

// missing returns the indexes of the chunks the temporary file does not
// already hold, reading and hashing what is there.
func (r *Restorer) missing(job *fileJob, offsets []int64, locs []blob.PackedBlob) ([]int, error) {
	f, err := os.Open(job.tmp())
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
	if r.plan.packs == nil {
		r.plan.packs = map[id.ID]map[blob.Handle]*planned{}
	}
	byBlob := r.plan.packs[loc.PackID]
	if byBlob == nil {
		byBlob = map[blob.Handle]*planned{}
		r.plan.packs[loc.PackID] = byBlob
		r.plan.order = append(r.plan.order, loc.PackID)
	}
	pl := byBlob[loc.Handle]
	if pl == nil {
		pl = &planned{loc: loc}
		byBlob[loc.Handle] = pl
	}
	pl.targets = append(pl.targets, t)
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

// discard drops a job's temporary file (while planning).
func (job *fileJob) discard() {
	if job.fd >= 0 {
		_ = unix.Close(job.fd)
		job.fd = -1
	}
	_ = os.Remove(job.tmp())
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
	for _, c := range job.meta.content {
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
