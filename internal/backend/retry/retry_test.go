package retry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/faulty"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/backend/retry"
)

// fast keeps the tests quick: the waits are short but real.
var fast = retry.Options{Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}

// reports counts the retries a Backend reports.
type reports struct {
	mu  sync.Mutex
	ops []string
}

func (r *reports) add(op string, err error, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

func (r *reports) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ops)
}

func newRetry(be backend.Backend) (*retry.Backend, *reports) {
	r := &reports{}
	opts := fast
	opts.Report = r.add
	return retry.New(be, opts), r
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backend.Backend {
		be, _ := newRetry(mem.New())
		return be
	})
}

// TestConformanceUnderFaults runs the suite with faults armed throughout:
// the retrying must hide every one of them. Remove is left alone: after a
// failed remove, a missing file counts as removed (TestRemoveAfterLostAnswer),
// which the suite's "remove a missing file" check would see.
func TestConformanceUnderFaults(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		f := faulty.New(mem.New())
		for _, op := range []faulty.Op{faulty.OpSave, faulty.OpLoad, faulty.OpStat, faulty.OpList} {
			f.Fail(op, 3)
		}
		f.ShortReads(3)
		f.LoseSaves(3)
		be, _ := newRetry(f)
		return be
	})
}

func save(t *testing.T, be backend.Backend, name, data string) backend.Handle {
	t.Helper()
	h := backend.Handle{Type: backend.PackFile, Name: name}
	if err := be.Save(t.Context(), h, backend.NewByteReader([]byte(data))); err != nil {
		t.Fatalf("Save(%v) = %v, want nil", h, err)
	}
	return h
}

func TestTransientFailuresAreRetried(t *testing.T) {
	f := faulty.New(mem.New())
	be, rep := newRetry(f)
	h := save(t, be, "aa01", "hello world")

	f.Fail(faulty.OpLoad, 2)
	f.ShortReads(2)
	got, err := backend.LoadAll(t.Context(), be, h)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("LoadAll = %q, %v; want the data", got, err)
	}
	if n := rep.count(); n != 4 {
		t.Errorf("reported %d retries, want 4", n)
	}
}

func TestGivesUp(t *testing.T) {
	f := faulty.New(mem.New())
	be, rep := newRetry(f)
	h := save(t, be, "aa02", "x")
	f.Fail(faulty.OpStat, 100)
	_, err := be.Stat(t.Context(), h)
	if !errors.Is(err, faulty.ErrInjected) || !strings.Contains(err.Error(), "gave up after 10 attempts") {
		t.Fatalf("Stat = %v, want the injected error after 10 attempts", err)
	}
	if n := rep.count(); n != 9 {
		t.Errorf("reported %d retries, want 9", n)
	}
}

func TestPermanentAndMissingAreNotRetried(t *testing.T) {
	be, rep := newRetry(mem.New())
	_, err := be.Stat(t.Context(), backend.Handle{Type: backend.PackFile, Name: "missing"})
	if !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat(missing) = %v, want ErrNotExist", err)
	}
	err = be.Save(t.Context(), backend.Handle{Type: backend.PackFile}, backend.NewByteReader(nil))
	if err == nil || !backend.IsPermanent(err) {
		t.Fatalf("Save(no name) = %v, want a permanent error", err)
	}
	if n := rep.count(); n != 0 {
		t.Errorf("reported %d retries, want 0", n)
	}
}

// TestCallbackErrorsAreNotRetried: an error of Load's or List's callback
// that is not a failed read comes back at once, unchanged.
func TestCallbackErrorsAreNotRetried(t *testing.T) {
	be, rep := newRetry(mem.New())
	h := save(t, be, "aa03", "data")
	mine := errors.New("bad data")
	calls := 0
	err := be.Load(t.Context(), h, 0, 0, func(io.Reader) error { calls++; return mine })
	if err != mine || calls != 1 {
		t.Fatalf("Load = %v after %d calls, want my error after 1", err, calls)
	}
	calls = 0
	err = be.List(t.Context(), backend.PackFile, func(backend.FileInfo) error { calls++; return mine })
	if err != mine || calls != 1 {
		t.Fatalf("List = %v after %d calls, want my error after 1", err, calls)
	}
	if n := rep.count(); n != 0 {
		t.Errorf("reported %d retries, want 0", n)
	}
}

// failingLister fails its first listing after passing half the files.
type failingLister struct {
	backend.Backend
	failed bool
}

func (f *failingLister) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	n := 0
	err := f.Backend.List(ctx, t, func(fi backend.FileInfo) error {
		if !f.failed && n == 5 {
			f.failed = true
			return faulty.ErrInjected
		}
		n++
		return fn(fi)
	})
	return err
}

func TestListResumesWithoutRepeats(t *testing.T) {
	m := mem.New()
	for i := range 10 {
		save(t, m, fmt.Sprintf("%04x", i), "x")
	}
	be, _ := newRetry(&failingLister{Backend: m})
	seen := map[string]int{}
	if err := be.List(t.Context(), backend.PackFile, func(fi backend.FileInfo) error {
		seen[fi.Name]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 10 {
		t.Errorf("listed %d files, want 10", len(seen))
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", name, n)
		}
	}
}

// noReplace is a backend that, like rest-server, refuses to overwrite; with
// appendOnly it refuses to delete too.
type noReplace struct {
	*mem.Backend
	appendOnly bool
	removes    int
}

func (n *noReplace) Properties() backend.Properties {
	return backend.Properties{Connections: 2, HasAtomicReplace: false}
}

func (n *noReplace) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if _, err := n.Backend.Stat(ctx, h); err == nil {
		return backend.Permanent(fmt.Errorf("save %v: file exists", h))
	}
	return n.Backend.Save(ctx, h, rd)
}

func (n *noReplace) Remove(ctx context.Context, h backend.Handle) error {
	n.removes++
	if n.appendOnly {
		return backend.Permanent(fmt.Errorf("remove %v: append-only", h))
	}
	return n.Backend.Remove(ctx, h)
}

// partialSaver stores only the first half of the first save, then fails,
// as a connection dropped mid-upload can leave it on some servers.
type partialSaver struct {
	*noReplace
	done bool
}

func (p *partialSaver) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if p.done {
		return p.noReplace.Save(ctx, h, rd)
	}
	p.done = true
	data, _ := io.ReadAll(rd)
	_ = p.noReplace.Backend.Save(ctx, h, backend.NewByteReader(data[:len(data)/2]))
	return faulty.ErrInjected
}

// TestLostSaveAnswer: the upload went through but its answer was lost. The
// retry finds the complete file and keeps it instead of failing on "file
// exists", even on a server that refuses deletes.
func TestLostSaveAnswer(t *testing.T) {
	for _, appendOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("appendOnly=%v", appendOnly), func(t *testing.T) {
			nr := &noReplace{Backend: mem.New(), appendOnly: appendOnly}
			f := faulty.New(nr)
			be, rep := newRetry(f)
			f.LoseSaves(2)
			h := save(t, be, hashName("payload"), "payload")
			got, err := backend.LoadAll(t.Context(), be, h)
			if err != nil || !bytes.Equal(got, []byte("payload")) {
				t.Fatalf("LoadAll = %q, %v", got, err)
			}
			if n := rep.count(); n != 1 {
				t.Errorf("reported %d retries, want 1 (the second lost answer never happens)", n)
			}
			if nr.removes != 0 {
				t.Errorf("%d removes, want none: the file was complete", nr.removes)
			}
		})
	}
}

// TestPartialLeftoverIsReplaced: a half-written file left by a failed
// attempt is removed and saved again.
func TestPartialLeftoverIsReplaced(t *testing.T) {
	nr := &noReplace{Backend: mem.New()}
	be, _ := newRetry(&partialSaver{noReplace: nr})
	h := save(t, be, hashName("the whole payload"), "the whole payload")
	got, err := backend.LoadAll(t.Context(), be, h)
	if err != nil || string(got) != "the whole payload" {
		t.Fatalf("LoadAll = %q, %v; want the whole payload", got, err)
	}
	if nr.removes != 1 {
		t.Errorf("%d removes, want 1", nr.removes)
	}
}

func hashName(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestRemoveAfterLostAnswer: a remove whose answer was lost and whose retry
// finds the file gone succeeded.
func TestRemoveAfterLostAnswer(t *testing.T) {
	m := mem.New()
	h := save(t, m, "aa05", "x")
	be, _ := newRetry(&loseRemove{Backend: m})
	if err := be.Remove(t.Context(), h); err != nil {
		t.Fatalf("Remove = %v, want nil", err)
	}
	if err := be.Remove(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("second Remove = %v, want ErrNotExist", err)
	}
}

type loseRemove struct {
	backend.Backend
	done bool
}

func (l *loseRemove) Remove(ctx context.Context, h backend.Handle) error {
	err := l.Backend.Remove(ctx, h)
	if err == nil && !l.done {
		l.done = true
		return faulty.ErrInjected
	}
	return err
}

func TestCancelStopsWaiting(t *testing.T) {
	f := faulty.New(mem.New())
	be := retry.New(f, retry.Options{Backoff: time.Hour})
	f.Fail(faulty.OpStat, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stat = %v, want DeadlineExceeded", err)
	}
}
