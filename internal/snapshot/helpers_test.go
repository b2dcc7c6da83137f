package snapshot_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// memRepo is an in-memory snapshot.Repository.
type memRepo struct {
	docs     map[id.ID][]byte
	listErr  error
	loadErr  map[id.ID]error
	delay    time.Duration
	mu       sync.Mutex // guards inFlight and maxSeen
	inFlight int
	maxSeen  int
}

func newMemRepo() *memRepo {
	return &memRepo{docs: map[id.ID][]byte{}, loadErr: map[id.ID]error{}}
}

// put stores s under the ID given in hex (padded with zeros to 64 digits),
// or under the hash of its JSON if hex is empty, and returns the ID.
func (r *memRepo) put(t *testing.T, hex string, s *snapshot.Snapshot) id.ID {
	t.Helper()
	doc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	fid := id.Hash(doc)
	if hex != "" {
		v, err := id.Parse(hex + strings.Repeat("0", 64-len(hex)))
		if err != nil {
			t.Fatal(err)
		}
		fid = v
	}
	r.docs[fid] = doc
	return fid
}

func (r *memRepo) ListSnapshots(ctx context.Context, fn func(id.ID) error) error {
	if r.listErr != nil {
		return r.listErr
	}
	ids := make([]id.ID, 0, len(r.docs))
	for k := range r.docs {
		ids = append(ids, k)
	}
	slices.SortFunc(ids, func(a, b id.ID) int { return strings.Compare(a.String(), b.String()) })
	for _, v := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

var errNotExist = errors.New("does not exist")

func (r *memRepo) LoadSnapshotJSON(ctx context.Context, fid id.ID) ([]byte, error) {
	r.mu.Lock()
	r.inFlight++
	r.maxSeen = max(r.maxSeen, r.inFlight)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}()
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := r.loadErr[fid]; err != nil {
		return nil, err
	}
	doc, ok := r.docs[fid]
	if !ok {
		return nil, errNotExist
	}
	return doc, nil
}

var tree = id.Hash([]byte("tree"))

// snap builds a snapshot at minute m past a fixed time.
func snap(m int, host string, paths []string, tags ...string) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Time:     time.Date(2024, 1, 1, 0, m, 0, 0, time.UTC),
		Tree:     &tree,
		Paths:    paths,
		Hostname: host,
		Tags:     tags,
	}
}

func at(m int) time.Time { return time.Date(2024, 1, 1, 0, m, 0, 0, time.UTC) }

// ids returns the storage IDs of snaps, short form, for messages and
// comparisons.
func ids(snaps []*snapshot.Snapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.ID.Str()
	}
	return out
}
