package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/pack"
)

type options struct {
	blobs      int
	seed       uint64
	packBlobs  int
	indexBlobs int
	treeEvery  int
	workers    int
}

func defaultOptions() options {
	return options{seed: 1, packBlobs: 2000, indexBlobs: 50000, treeEvery: 20, workers: 2}
}

type stats struct {
	blobs, trees, packs, indexes int
	bytes                        int64
}

func (s *stats) add(o stats) {
	s.blobs += o.blobs
	s.trees += o.trees
	s.packs += o.packs
	s.indexes += o.indexes
	s.bytes += o.bytes
}

// plaintext returns blob i's content for seed: 16 to 32 bytes of a hash of
// both, so every blob differs and nothing needs to be stored to repeat it.
func plaintext(seed uint64, i int) []byte {
	var in [16]byte
	binary.LittleEndian.PutUint64(in[:8], seed)
	binary.LittleEndian.PutUint64(in[8:], uint64(i))
	sum := sha256.Sum256(in[:])
	return sum[:16+int(sum[31]%17)]
}

// blobType says whether blob i is a tree blob (every treeEvery-th) or data.
func (o options) blobType(i int) blob.Type {
	if o.treeEvery > 0 && i%o.treeEvery == 0 {
		return blob.Tree
	}
	return blob.Data
}

// generate writes o.blobs blobs into be: the blobs are cut into groups of
// o.indexBlobs, and each group, written by one of o.workers goroutines,
// becomes packs (data and tree blobs apart) and then one index file listing
// them, so an index never names a pack that is not stored yet.
func generate(ctx context.Context, be backend.Backend, key *crypto.Key, o options) (stats, error) {
	if o.packBlobs <= 0 || o.indexBlobs <= 0 {
		return stats{}, fmt.Errorf("-pack-blobs and -index-blobs must be positive")
	}
	groups := (o.blobs + o.indexBlobs - 1) / o.indexBlobs
	workers := max(1, min(o.workers, groups))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	next := make(chan int)
	var (
		mu    sync.Mutex
		total stats
		first error
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range next {
				st, err := writeGroup(ctx, be, key, o, g*o.indexBlobs, min(o.blobs, (g+1)*o.indexBlobs))
				mu.Lock()
				total.add(st)
				if err != nil && first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for g := range groups {
		select {
		case next <- g:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return total, first
}

// writeGroup writes blobs [from, to) as packs and one index file.
func writeGroup(ctx context.Context, be backend.Backend, key *crypto.Key, o options, from, to int) (stats, error) {
	var st stats
	var file index.File
	w := pack.NewWriter(key, nil)
	for _, t := range []blob.Type{blob.Data, blob.Tree} {
		for i := from; i < to; i++ {
			if o.blobType(i) != t {
				continue
			}
			plain := plaintext(o.seed, i)
			h := blob.Handle{ID: id.Hash(plain), Type: t}
			if err := w.AddSealing(h, plain, 0); err != nil {
				return st, err
			}
			st.blobs++
			if t == blob.Tree {
				st.trees++
			}
			if w.Count() == o.packBlobs {
				if err := savePack(ctx, be, w, &file, &st); err != nil {
					return st, err
				}
			}
		}
		if w.Count() > 0 { // the rest of this type: packs hold one type only
			if err := savePack(ctx, be, w, &file, &st); err != nil {
				return st, err
			}
		}
	}
	doc, err := index.Encode(&file)
	if err != nil {
		return st, err
	}
	// Plain JSON (no 0x02 compression prefix) is a valid unpacked file in
	// version 2 too; only the encryption is required.
	raw := key.Seal(nil, doc)
	h := backend.Handle{Type: backend.IndexFile, Name: id.Hash(raw).String()}
	if err := be.Save(ctx, h, backend.NewByteReader(raw)); err != nil {
		return st, fmt.Errorf("save index: %w", err)
	}
	st.indexes++
	st.bytes += int64(len(raw))
	return st, nil
}

// savePack finishes the pack in w, stores it (atomically: the backend writes
// a temporary file and renames it), lists it in file and resets w.
func savePack(ctx context.Context, be backend.Backend, w *pack.Writer, file *index.File, st *stats) error {
	blobs := w.Blobs()
	pid, err := w.Finish()
	if err != nil {
		return err
	}
	raw := w.Bytes()
	h := backend.Handle{Type: backend.PackFile, Name: pid.String()}
	if err := be.Save(ctx, h, backend.NewByteReader(raw)); err != nil {
		return fmt.Errorf("save pack: %w", err)
	}
	file.Packs = append(file.Packs, index.Pack{ID: pid, Blobs: blobs})
	st.packs++
	st.bytes += int64(len(raw))
	w.Reset(nil)
	return nil
}
