package repository_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/repository"
)

// The gate holds back packs, unpacked files and removals, runs once, and
// lets lock files through at once.
func TestWriteGateHoldsWrites(t *testing.T) {
	be := mem.New()
	r := newWriteRepo(t, be, 2, repository.CompressionAuto)
	open := make(chan struct{})
	var runs atomic.Int32
	r.SetWriteGate(func(ctx context.Context) error {
		runs.Add(1)
		select {
		case <-open:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if _, err := r.SaveUnpacked(t.Context(), backend.LockFile, []byte(`{}`)); err != nil {
		t.Fatalf("lock file held back or failed: %v", err)
	}
	startWriting(t, r, repository.WriteOptions{})
	saveNew(t, r, blob.Data, []byte("some data"))
	done := make(chan error, 1)
	go func() {
		_, err := r.Finish(t.Context())
		if err == nil {
			_, err = r.SaveUnpacked(t.Context(), backend.SnapshotFile, []byte(`{"time":"2026-01-01T00:00:00Z","tree":null,"paths":["/"]}`))
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("writes passed a closed gate (%v)", err)
	default:
	}
	if n := len(listNames(t, be, backend.PackFile)); n != 0 {
		t.Fatalf("%d packs written before the gate opened", n)
	}
	close(open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(listNames(t, be, backend.PackFile)) != 1 || len(listNames(t, be, backend.SnapshotFile)) != 1 {
		t.Fatal("pack or snapshot missing after the gate opened")
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("gate ran %d times, want once", n)
	}
}

// A failing gate fails every write after it with its error.
func TestWriteGateError(t *testing.T) {
	r := newWriteRepo(t, mem.New(), 2, repository.CompressionAuto)
	boom := errors.New("no lock")
	r.SetWriteGate(func(context.Context) error { return boom })
	for range 2 {
		if _, err := r.SaveUnpacked(t.Context(), backend.SnapshotFile, []byte(`{}`)); !errors.Is(err, boom) {
			t.Fatalf("SaveUnpacked = %v, want the gate's error", err)
		}
	}
}

// CheckIndexFiles: index files added since LoadIndex are fine, a removed
// one is ErrIndexChanged.
func TestCheckIndexFiles(t *testing.T) {
	be := mem.New()
	w := newWriteRepo(t, be, 2, repository.CompressionAuto)
	startWriting(t, w, repository.WriteOptions{})
	saveNew(t, w, blob.Data, []byte("first"))
	finish(t, w)

	r := reopen(t, be)
	if err := r.CheckIndexFiles(t.Context()); err != nil {
		t.Fatalf("unchanged: %v", err)
	}
	startWriting(t, w, repository.WriteOptions{})
	saveNew(t, w, blob.Data, []byte("second"))
	finish(t, w)
	if err := r.CheckIndexFiles(t.Context()); err != nil {
		t.Fatalf("after another backup added an index file: %v", err)
	}
	ids, err := w.ListIndexIDs(t.Context())
	if err != nil || len(ids) != 2 {
		t.Fatalf("index files: %v, %v", ids, err)
	}
	for _, fid := range ids {
		if err := be.Remove(t.Context(), backend.Handle{Type: backend.IndexFile, Name: fid.String()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.CheckIndexFiles(t.Context()); !errors.Is(err, repository.ErrIndexChanged) {
		t.Fatalf("after the index was rewritten: %v, want ErrIndexChanged", err)
	}
}
