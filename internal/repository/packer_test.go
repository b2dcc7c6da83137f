package repository_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/pack"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/google/go-cmp/cmp"
)

const writePassword = "secret"

// newWriteRepo initialises a repository on be and loads its (empty) index,
// ready for StartWriting.
func newWriteRepo(t testing.TB, be backend.Backend, version uint, c repository.Compression) *repository.Repository {
	t.Helper()
	o := repository.InitOptions{Version: version, Poly: testPol, Username: "user", Hostname: "host", Params: cheapParams(t)}
	r, err := repository.Init(t.Context(), be, writePassword, o, repository.Options{Compression: c})
	if err != nil {
		t.Fatalf("Init(v%d) = %v, want nil", version, err)
	}
	if _, err := r.LoadIndex(t.Context()); err != nil {
		t.Fatalf("LoadIndex() = %v, want nil", err)
	}
	return r
}

// reopen opens be afresh and loads the index, as a later run would.
func reopen(t testing.TB, be backend.Backend) *repository.Repository {
	t.Helper()
	r, err := repository.Open(t.Context(), be, writePassword, repository.Options{})
	if err != nil {
		t.Fatalf("Open() = %v, want nil", err)
	}
	if _, err := r.LoadIndex(t.Context()); err != nil {
		t.Fatalf("LoadIndex() = %v, want nil", err)
	}
	return r
}

func startWriting(t testing.TB, r *repository.Repository, o repository.WriteOptions) {
	t.Helper()
	if err := r.StartWriting(t.Context(), o); err != nil {
		t.Fatalf("StartWriting(%+v) = %v, want nil", o, err)
	}
}

func finish(t testing.TB, r *repository.Repository) repository.WriteStats {
	t.Helper()
	st, err := r.Finish(t.Context())
	if err != nil {
		t.Fatalf("Finish() = %v, want nil", err)
	}
	return st
}

// saveNew saves a blob that must be new and returns the size it added.
func saveNew(t testing.TB, r *repository.Repository, typ blob.Type, plain []byte) int {
	t.Helper()
	want := id.Hash(plain)
	got, known, size, err := r.SaveBlob(t.Context(), typ, plain, id.ID{})
	if err != nil || got != want || known || size <= 0 {
		t.Fatalf("SaveBlob(%v, %d bytes) = %v, %v, %d, %v; want %v, false, >0, nil", typ, len(plain), got.Str(), known, size, err, want.Str())
	}
	return size
}

// packHeaders reads every pack in be, checks that its name is the hash of
// its bytes, and parses its header.
func packHeaders(t testing.TB, r *repository.Repository) map[id.ID][]blob.Blob {
	t.Helper()
	ctx := t.Context()
	be := r.Backend()
	packs := make(map[id.ID][]blob.Blob)
	for _, name := range listNames(t, be, backend.PackFile) {
		pid, err := id.Parse(name)
		if err != nil {
			t.Fatalf("pack file name %q: %v", name, err)
		}
		raw, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.PackFile, Name: name})
		if err != nil {
			t.Fatalf("LoadAll(pack %v) = %v, want nil", pid.Str(), err)
		}
		if id.Hash(raw) != pid {
			t.Errorf("pack %v: content hashes to %v", pid.Str(), id.Hash(raw).Str())
		}
		blobs, err := pack.ReadHeader(ctx, bytes.NewReader(raw), int64(len(raw)), r.Key())
		if err != nil {
			t.Fatalf("ReadHeader(pack %v) = %v, want nil", pid.Str(), err)
		}
		packs[pid] = blobs
	}
	return packs
}

// packSizes returns the size of every pack file.
func packSizes(t testing.TB, be backend.Backend) map[string]int64 {
	t.Helper()
	sizes := make(map[string]int64)
	err := be.List(t.Context(), backend.PackFile, func(fi backend.FileInfo) error {
		sizes[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List(packs) = %v, want nil", err)
	}
	return sizes
}

func listNames(t testing.TB, be backend.Backend, ft backend.FileType) []string {
	t.Helper()
	var names []string
	err := be.List(t.Context(), ft, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%v) = %v, want nil", ft, err)
	}
	slices.Sort(names)
	return names
}

// indexFiles decodes every index file in the repository.
func indexFiles(t testing.TB, r *repository.Repository) map[id.ID]*index.File {
	t.Helper()
	files := make(map[id.ID]*index.File)
	for _, name := range listNames(t, r.Backend(), backend.IndexFile) {
		fid, err := id.Parse(name)
		if err != nil {
			t.Fatalf("index file name %q: %v", name, err)
		}
		doc, err := r.LoadUnpacked(t.Context(), backend.IndexFile, fid)
		if err != nil {
			t.Fatalf("LoadUnpacked(index %v) = %v, want nil", fid.Str(), err)
		}
		f, err := index.Decode(doc, r.Config().Version)
		if err != nil {
			t.Fatalf("index.Decode(%v) = %v, want nil", fid.Str(), err)
		}
		files[fid] = f
	}
	return files
}

// checkIndexCoversPacks checks that the index files list exactly the packs
// in the backend, each once, with the entries of its header.
func checkIndexCoversPacks(t testing.TB, r *repository.Repository) (map[id.ID][]blob.Blob, map[id.ID]*index.File) {
	t.Helper()
	packs := packHeaders(t, r)
	files := indexFiles(t, r)
	seen := make(map[id.ID]id.ID) // pack → index file
	for fid, f := range files {
		if len(f.Packs) == 0 {
			t.Errorf("index %v lists no packs", fid.Str())
		}
		for _, p := range f.Packs {
			if other, ok := seen[p.ID]; ok {
				t.Errorf("pack %v is in index %v and in index %v", p.ID.Str(), other.Str(), fid.Str())
			}
			seen[p.ID] = fid
			hdr, ok := packs[p.ID]
			if !ok {
				t.Errorf("index %v lists pack %v, which is not in the backend", fid.Str(), p.ID.Str())
				continue
			}
			// A plain loop: cmp.Diff is slow under -race for 100k entries.
			if len(hdr) != len(p.Blobs) {
				t.Errorf("index %v lists %d blobs for pack %v, its header %d", fid.Str(), len(p.Blobs), p.ID.Str(), len(hdr))
				continue
			}
			for i, b := range hdr {
				want := b
				if p.Blobs[i] != want {
					t.Errorf("index %v, pack %v, blob %d = %+v, header has %+v", fid.Str(), p.ID.Str(), i, p.Blobs[i], want)
					break
				}
			}
		}
	}
	for pid := range packs {
		if _, ok := seen[pid]; !ok {
			t.Errorf("pack %v is in the backend but in no index file", pid.Str())
		}
	}
	return packs, files
}

// blobSource makes reproducible test blobs.
type blobSource struct {
	rng *rand.ChaCha8
	n   int
}

func newBlobSource(seed byte) *blobSource {
	return &blobSource{rng: rand.NewChaCha8([32]byte{seed})}
}

// random returns n incompressible bytes.
func (s *blobSource) random(n int) []byte {
	b := make([]byte, n)
	_, _ = s.rng.Read(b)
	return b
}

// text returns n bytes of unique, well-compressible text.
func (s *blobSource) text(n int) []byte {
	s.n++
	var b bytes.Buffer
	fmt.Fprintf(&b, "blob %d %x: ", s.n, s.rng.Uint64())
	for b.Len() < n {
		b.WriteString("all work and no play makes jack a dull boy. ")
	}
	return b.Bytes()[:n]
}

// tree returns a unique tree-like JSON document of about n bytes.
func (s *blobSource) tree(n int) []byte {
	s.n++
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"nodes":[`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"name":"file-%d-%d","type":"file","mode":420,"mtime":"2024-01-02T03:04:05Z","uid":1000,"gid":1000,"content":[]},`, s.n, i)
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

type testInput struct {
	typ         blob.Type
	plain       []byte
	compressive bool // zstd shrinks it
}

func (in testInput) handle() blob.Handle { return blob.Handle{ID: id.Hash(in.plain), Type: in.typ} }

func TestWriterRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		version  uint
		comp     repository.Compression
		wantData bool // compressible data blobs are stored compressed
		wantTree bool // tree blobs are stored compressed
	}{
		{"v1", 1, repository.CompressionAuto, false, false},
		{"v2-auto", 2, repository.CompressionAuto, true, true},
		{"v2-off", 2, repository.CompressionOff, false, true},
		{"v2-fastest", 2, repository.CompressionFastest, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := newBlobSource(1)
			var in []testInput
			in = append(in, testInput{typ: blob.Data, plain: []byte{}})
			for i, n := range []int{1, 31, 32, 33, 1000, 4096, 65536, 300_000, 1 << 20, 2<<20 + 7} {
				in = append(in, testInput{typ: blob.Data, plain: src.random(n + i)})
			}
			for _, n := range []int{1000, 5000, 70_000, 500_000, 1 << 20, 1<<20 + 1, 3 << 20} {
				in = append(in, testInput{typ: blob.Data, plain: src.text(n), compressive: true})
			}
			for _, n := range []int{600, 1000, 20_000, 200_000} {
				in = append(in, testInput{typ: blob.Tree, plain: src.tree(n), compressive: true})
			}
			// A tree blob with the bytes of a data blob is another blob.
			in = append(in, testInput{typ: blob.Tree, plain: in[3].plain})

			be := mem.New()
			r := newWriteRepo(t, be, tc.version, tc.comp)
			startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize})

			// Save from several goroutines at once.
			sizes := make([]int, len(in))
			var wg sync.WaitGroup
			errs := make(chan error, len(in))
			for g := range 4 {
				wg.Go(func() {
					for i := g; i < len(in); i += 4 {
						bid, known, size, err := r.SaveBlob(t.Context(), in[i].typ, in[i].plain, id.ID{})
						switch {
						case err != nil:
							errs <- fmt.Errorf("SaveBlob(%d) = %w", i, err)
						case bid != in[i].handle().ID || known || size <= 0:
							errs <- fmt.Errorf("SaveBlob(%d) = %v, %v, %d; want %v, false, >0", i, bid.Str(), known, size, in[i].handle().ID.Str())
						}
						sizes[i] = size
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			stats := finish(t, r)

			packs, _ := checkIndexCoversPacks(t, r)
			wantStats := repository.WriteStats{Packs: len(packs)}
			for i, b := range in {
				if b.typ == blob.Data {
					wantStats.DataBlobs++
				} else {
					wantStats.TreeBlobs++
				}
				wantStats.DataAdded += uint64(len(b.plain))
				wantStats.DataAddedPacked += uint64(sizes[i])
			}
			if stats != wantStats {
				t.Errorf("Finish() stats = %+v, want %+v", stats, wantStats)
			}

			// Every pack holds one blob type; compression is as configured.
			stored := make(map[blob.Handle]blob.Blob)
			for pid, blobs := range packs {
				for _, b := range blobs {
					if b.Type != blobs[0].Type {
						t.Errorf("pack %v mixes %v and %v blobs", pid.Str(), blobs[0].Type, b.Type)
					}
					if _, dup := stored[b.Handle]; dup {
						t.Errorf("blob %v stored twice", b.Handle)
					}
					stored[b.Handle] = b
				}
			}
			if len(stored) != len(in) {
				t.Errorf("packs hold %d blobs, want %d", len(stored), len(in))
			}
			for i, b := range in {
				h := b.handle()
				s, ok := stored[h]
				if !ok {
					t.Errorf("blob %d (%v) is in no pack", i, h)
					continue
				}
				if int(s.Length) != sizes[i] {
					t.Errorf("blob %d (%v): SaveBlob size %d, stored length %d", i, h, sizes[i], s.Length)
				}
				want := false
				switch {
				case len(b.plain) == 0 || !b.compressive:
				case b.typ == blob.Data:
					want = tc.wantData
				default:
					want = tc.wantTree
				}
				if s.IsCompressed() != want {
					t.Errorf("blob %d (%v, %d bytes, compressible %v): compressed = %v, want %v", i, h, len(b.plain), b.compressive, s.IsCompressed(), want)
				}
				if s.IsCompressed() && int(s.UncompressedLength) != len(b.plain) {
					t.Errorf("blob %d (%v): uncompressed length %d, want %d", i, h, s.UncompressedLength, len(b.plain))
				}
				if !s.IsCompressed() && int(s.Length) != len(b.plain)+32 {
					t.Errorf("blob %d (%v): uncompressed blob stored in %d bytes, want %d", i, h, s.Length, len(b.plain)+32)
				}
			}

			// A fresh open reads everything back.
			r2 := reopen(t, be)
			if got := r2.Index().Len(); got != len(in) {
				t.Errorf("reopened index has %d blobs, want %d", got, len(in))
			}
			for i, b := range in {
				if !r2.HasBlob(b.handle()) {
					t.Errorf("HasBlob(%v) = false after reopen", b.handle())
				}
				got, err := r2.LoadBlob(t.Context(), b.handle())
				if err != nil {
					t.Errorf("LoadBlob(%d: %v) = %v, want nil", i, b.handle(), err)
					continue
				}
				if !bytes.Equal(got, b.plain) {
					t.Errorf("LoadBlob(%d: %v) = %d bytes, want the %d bytes saved", i, b.handle(), len(got), len(b.plain))
				}
			}
		})
	}
}

// TestWriterGivenID checks that SaveBlob uses a caller-supplied ID as is.
func TestWriterGivenID(t *testing.T) {
	t.Parallel()
	r := newWriteRepo(t, mem.New(), 2, repository.CompressionAuto)
	startWriting(t, r, repository.WriteOptions{})
	plain := []byte("given id")
	want := id.Hash(plain)
	got, known, _, err := r.SaveBlob(t.Context(), blob.Data, plain, want)
	if err != nil || got != want || known {
		t.Fatalf("SaveBlob(given ID) = %v, %v, _, %v; want %v, false, nil", got.Str(), known, err, want.Str())
	}
	if _, known, _, _ = r.SaveBlob(t.Context(), blob.Data, plain, id.ID{}); !known {
		t.Errorf("SaveBlob(computed ID) after SaveBlob(given ID): known = false, want true")
	}
	finish(t, r)
	if b, err := reopen(t, r.Backend()).LoadBlob(t.Context(), blob.Handle{ID: want, Type: blob.Data}); err != nil || !bytes.Equal(b, plain) {
		t.Errorf("LoadBlob() = %q, %v; want %q, nil", b, err, plain)
	}
}

func TestWriterDedup(t *testing.T) {
	t.Parallel()
	be := mem.New()
	r := newWriteRepo(t, be, 2, repository.CompressionAuto)
	src := newBlobSource(2)
	startWriting(t, r, repository.WriteOptions{})

	// Twice in a row.
	first := src.random(5000)
	saveNew(t, r, blob.Data, first)
	for range 2 {
		bid, known, size, err := r.SaveBlob(t.Context(), blob.Data, first, id.ID{})
		if err != nil || bid != id.Hash(first) || !known || size != 0 {
			t.Errorf("SaveBlob(again) = %v, %v, %d, %v; want %v, true, 0, nil", bid.Str(), known, size, err, id.Hash(first).Str())
		}
	}

	// The same blobs from 16 goroutines at once: one of them stores each.
	shared := make([][]byte, 20)
	for i := range shared {
		shared[i] = src.random(1000 + 3000*i)
	}
	var mu sync.Mutex
	stored := make(map[id.ID]int)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			<-start
			for i := range shared {
				b := shared[(i+g)%len(shared)]
				bid, known, size, err := r.SaveBlob(t.Context(), blob.Data, b, id.ID{})
				if err != nil || bid != id.Hash(b) || known != (size == 0) {
					t.Errorf("SaveBlob(shared) = %v, %v, %d, %v", bid.Str(), known, size, err)
				}
				if !known {
					mu.Lock()
					stored[bid]++
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for _, b := range shared {
		if n := stored[id.Hash(b)]; n != 1 {
			t.Errorf("blob %v reported new %d times by 16 concurrent savers, want 1", id.Hash(b).Str(), n)
		}
	}
	stats := finish(t, r)
	if stats.DataBlobs != 1+len(shared) {
		t.Errorf("Finish() DataBlobs = %d, want %d", stats.DataBlobs, 1+len(shared))
	}
	countCopies := func() map[blob.Handle]int {
		n := make(map[blob.Handle]int)
		for _, blobs := range packHeaders(t, r) {
			for _, b := range blobs {
				n[b.Handle]++
			}
		}
		return n
	}
	for h, n := range countCopies() {
		if n != 1 {
			t.Errorf("blob %v is stored %d times, want once", h, n)
		}
	}

	// A second session on the same repository knows them too.
	before := snapshot(t, be)
	startWriting(t, r, repository.WriteOptions{})
	for _, b := range append([][]byte{first}, shared...) {
		if _, known, size, err := r.SaveBlob(t.Context(), blob.Data, b, id.ID{}); err != nil || !known || size != 0 {
			t.Errorf("SaveBlob(after Finish) = _, %v, %d, %v; want true, 0, nil", known, size, err)
		}
	}
	if st := finish(t, r); st.Packs != 0 || st.DataBlobs != 0 {
		t.Errorf("Finish() of a session storing nothing new = %+v, want no packs and no blobs", st)
	}
	if diff := cmp.Diff(before, snapshot(t, be)); diff != "" {
		t.Errorf("session storing only known blobs changed the backend (-before +after):\n%s", diff)
	}

	// So does a fresh Open, and a tree with the same bytes is another blob.
	r2 := reopen(t, be)
	startWriting(t, r2, repository.WriteOptions{})
	for _, b := range append([][]byte{first}, shared...) {
		if _, known, _, err := r2.SaveBlob(t.Context(), blob.Data, b, id.ID{}); err != nil || !known {
			t.Errorf("SaveBlob(after reopen) = _, %v, _, %v; want true, nil", known, err)
		}
	}
	saveNew(t, r2, blob.Tree, first)
	if st := finish(t, r2); st.Packs != 1 || st.TreeBlobs != 1 || st.DataBlobs != 0 {
		t.Errorf("Finish() = %+v, want one pack with one tree blob", st)
	}
	for h, n := range countCopies() {
		if n != 1 {
			t.Errorf("blob %v is stored %d times, want once", h, n)
		}
	}
	checkIndexCoversPacks(t, r2)
}

func TestWriterPackSize(t *testing.T) {
	t.Parallel()
	const packSize = repository.MinPackSize
	be := mem.New()
	r := newWriteRepo(t, be, 1, repository.CompressionAuto)
	src := newBlobSource(3)
	startWriting(t, r, repository.WriteOptions{PackSize: packSize})
	maxBlob := 0
	for i := range 40 {
		n := 200_000 + (i*397_000)%900_000
		maxBlob = max(maxBlob, n)
		saveNew(t, r, blob.Data, src.random(n))
	}
	for i := range 30 {
		saveNew(t, r, blob.Tree, src.tree(1000+i*100))
	}
	finish(t, r)
	packs, _ := checkIndexCoversPacks(t, r)
	small := map[blob.Type]int{}
	for name, size := range packSizes(t, be) {
		pid, _ := id.Parse(name)
		typ := packs[pid][0].Type
		// A pack is closed once it reaches the target, so it can exceed it
		// by one blob and its header entry at most.
		if limit := int64(packSize + maxBlob + 32 + 41 + 36); size >= limit {
			t.Errorf("%v pack %v has %d bytes, want < %d", typ, pid.Str(), size, limit)
		}
		if size < packSize {
			small[typ]++
		}
	}
	// Only the packs still open at Finish (two per blob type) may be small.
	for typ, n := range small {
		if n > 2 {
			t.Errorf("%d %v packs are below the target size, want at most 2", n, typ)
		}
	}
	if len(packs) < 5 {
		t.Errorf("%d packs for 27 MiB of data at a 4 MiB target, want at least 5", len(packs))
	}
}

// TestWriterOversizedBlob checks restic's rule that a blob whose ciphertext
// is at least the pack size gets a pack of its own.
func TestWriterOversizedBlob(t *testing.T) {
	t.Parallel()
	const packSize = repository.MinPackSize
	r := newWriteRepo(t, mem.New(), 2, repository.CompressionAuto)
	src := newBlobSource(4)
	startWriting(t, r, repository.WriteOptions{PackSize: packSize})
	for range 3 {
		saveNew(t, r, blob.Data, src.random(100_000))
	}
	big := src.random(packSize + 1<<20)
	saveNew(t, r, blob.Data, big)
	for range 3 {
		saveNew(t, r, blob.Data, src.random(100_000))
	}
	finish(t, r)
	for pid, blobs := range packHeaders(t, r) {
		for _, b := range blobs {
			if b.ID == id.Hash(big) && len(blobs) != 1 {
				t.Errorf("pack %v holds the %d-byte blob and %d others, want it alone", pid.Str(), len(big), len(blobs)-1)
			}
		}
	}
}

func TestStartWritingPackSize(t *testing.T) {
	t.Parallel()
	r := newWriteRepo(t, mem.New(), 2, repository.CompressionAuto)
	for _, size := range []int{-1, 1, 1 << 20, repository.MinPackSize - 1, repository.MaxPackSize + 1, 1 << 30} {
		if err := r.StartWriting(t.Context(), repository.WriteOptions{PackSize: size}); err == nil {
			t.Errorf("StartWriting(PackSize %d) = nil, want an error", size)
			_, _ = r.Finish(t.Context())
		}
	}
	for _, size := range []int{0, repository.MinPackSize, repository.DefaultPackSize, repository.MaxPackSize} {
		startWriting(t, r, repository.WriteOptions{PackSize: size})
		if err := r.StartWriting(t.Context(), repository.WriteOptions{PackSize: size}); err == nil {
			t.Errorf("StartWriting() while writing = nil, want an error")
		}
		saveNew(t, r, blob.Data, fmt.Appendf(nil, "pack size %d", size))
		finish(t, r)
	}
	if _, _, _, err := r.SaveBlob(t.Context(), blob.Data, []byte("x"), id.ID{}); err == nil {
		t.Errorf("SaveBlob() after Finish = nil error, want an error")
	}
	if _, err := r.Finish(t.Context()); err == nil {
		t.Errorf("Finish() twice = nil error, want an error")
	}
	unloaded, err := repository.Open(t.Context(), r.Backend(), writePassword, repository.Options{})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	if err := unloaded.StartWriting(t.Context(), repository.WriteOptions{}); err == nil {
		t.Errorf("StartWriting() before LoadIndex = nil, want an error")
	}
}

func TestWriterDryRun(t *testing.T) {
	t.Parallel()
	be := mem.New()
	r := newWriteRepo(t, be, 2, repository.CompressionAuto)
	src := newBlobSource(5)
	before := snapshot(t, be)
	startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize, DryRun: true})
	var want repository.WriteStats
	for i := range 12 {
		b := src.random(700_000 + i)
		if size := saveNew(t, r, blob.Data, b); size != len(b)+32 {
			t.Errorf("dry-run SaveBlob(%d random bytes) size = %d, want %d", len(b), size, len(b)+32)
		}
		if _, known, _, _ := r.SaveBlob(t.Context(), blob.Data, b, id.ID{}); !known {
			t.Errorf("dry-run SaveBlob(again): known = false, want true")
		}
		want.DataBlobs++
		want.DataAdded += uint64(len(b))
		want.DataAddedPacked += uint64(len(b) + 32)
	}
	tr := src.tree(5000)
	if size := saveNew(t, r, blob.Tree, tr); size >= len(tr) {
		t.Errorf("dry-run SaveBlob(tree of %d bytes) size = %d, want it compressed", len(tr), size)
	}
	stats := finish(t, r)
	if stats.DataBlobs != want.DataBlobs || stats.TreeBlobs != 1 || stats.DataAdded != want.DataAdded+uint64(len(tr)) || stats.Packs < 2 {
		t.Errorf("dry-run Finish() = %+v, want %d data blobs, 1 tree blob and at least 2 packs counted", stats, want.DataBlobs)
	}
	if diff := cmp.Diff(before, snapshot(t, be)); diff != "" {
		t.Errorf("dry run changed the backend (-before +after):\n%s", diff)
	}
	if n := reopen(t, be).Index().Len(); n != 0 {
		t.Errorf("index after a dry run has %d blobs, want 0", n)
	}
}

// TestWriterAfterDryRun saves for real, on the same Repository, what a dry
// run saved before.
func TestWriterAfterDryRun(t *testing.T) {
	t.Parallel()
	be := mem.New()
	r := newWriteRepo(t, be, 2, repository.CompressionAuto)
	b := []byte("saved in a dry run first")
	startWriting(t, r, repository.WriteOptions{DryRun: true})
	saveNew(t, r, blob.Data, b)
	finish(t, r)

	startWriting(t, r, repository.WriteOptions{})
	if _, known, _, err := r.SaveBlob(t.Context(), blob.Data, b, id.ID{}); err != nil || known {
		t.Errorf("SaveBlob() after a dry run = _, %v, _, %v; want false, nil", known, err)
	}
	finish(t, r)
	if _, err := reopen(t, be).LoadBlob(t.Context(), blob.Handle{ID: id.Hash(b), Type: blob.Data}); err != nil {
		t.Errorf("LoadBlob() = %v, want nil", err)
	}
}

// tinyBlobs returns n distinct 8-byte blobs.
func tinyBlobs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = binary.LittleEndian.AppendUint64(nil, uint64(i)*0x9E3779B97F4A7C15+1)
	}
	return out
}

// saveAll saves blobs from a few goroutines and returns the first error.
func saveAll(ctx context.Context, r *repository.Repository, typ blob.Type, blobs [][]byte) error {
	const workers = 4
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := g; i < len(blobs); i += workers {
				if _, _, _, err := r.SaveBlob(ctx, typ, blobs[i], id.ID{}); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestWriterIndexFiles(t *testing.T) {
	t.Parallel()
	be := mem.New()
	// Without data compression: zstd is slow under -race, and 8-byte blobs
	// are stored raw anyway.
	r := newWriteRepo(t, be, 2, repository.CompressionOff)
	// A 4 MiB pack holds 54471 blobs of 8 bytes (77 bytes each with the
	// header entry), so with two open packs 112000 blobs seal at least one
	// pack, whose upload rolls the index over; Finish writes the rest.
	blobs := tinyBlobs(112_000)
	startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize})
	if err := saveAll(t.Context(), r, blob.Data, blobs); err != nil {
		t.Fatalf("SaveBlob() = %v", err)
	}
	stats := finish(t, r)
	if stats.DataBlobs != len(blobs) {
		t.Errorf("Finish() DataBlobs = %d, want %d", stats.DataBlobs, len(blobs))
	}
	packs, files := checkIndexCoversPacks(t, r)
	if len(files) < 2 {
		t.Errorf("%d index files for %d blobs, want at least 2 (one per 50000 blobs)", len(files), len(blobs))
	}
	total := 0
	for _, blobs := range packs {
		total += len(blobs)
	}
	if total != len(blobs) {
		t.Errorf("packs hold %d blobs, want %d", total, len(blobs))
	}
	// (Reopening is covered elsewhere; decoding this index again would
	// double the run time under -race.)
	for _, i := range []int{0, 1, 49_999, 50_000, 77_777, len(blobs) - 1} {
		got, err := r.LoadBlob(t.Context(), blob.Handle{ID: id.Hash(blobs[i]), Type: blob.Data})
		if err != nil || !bytes.Equal(got, blobs[i]) {
			t.Errorf("LoadBlob(blob %d) = %x, %v; want %x, nil", i, got, err, blobs[i])
		}
	}
}

// faultyBackend lets the first okPacks pack uploads through; later ones
// either block until released (or their context ends), or fail with err.
// It reports one connection so that the writer has a single upload worker.
type faultyBackend struct {
	backend.Backend
	okPacks  int
	err      error         // returned by pack uploads after okPacks; nil: block
	release  chan struct{} // closed to let blocked uploads through
	blocked  chan struct{} // closed when the first upload blocks or fails
	failIdx  int           // fail this many index uploads with err first
	once     sync.Once
	mu       sync.Mutex
	packs    int // pack uploads begun; guarded by mu
	idxFails int // index uploads failed; guarded by mu
}

func newFaultyBackend(okPacks int, err error) *faultyBackend {
	return &faultyBackend{Backend: mem.New(), okPacks: okPacks, err: err, release: make(chan struct{}), blocked: make(chan struct{})}
}

func (b *faultyBackend) Properties() backend.Properties {
	p := b.Backend.Properties()
	p.Connections = 1
	return p
}

func (b *faultyBackend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	b.mu.Lock()
	switch h.Type {
	case backend.PackFile:
		b.packs++
		if b.packs <= b.okPacks {
			b.mu.Unlock()
			return b.Backend.Save(ctx, h, rd)
		}
	case backend.IndexFile:
		if b.idxFails < b.failIdx {
			b.idxFails++
			b.mu.Unlock()
			return fmt.Errorf("save %v: %w", h, b.err)
		}
		fallthrough
	default:
		b.mu.Unlock()
		return b.Backend.Save(ctx, h, rd)
	}
	b.mu.Unlock()
	b.once.Do(func() { close(b.blocked) })
	if b.err != nil {
		return fmt.Errorf("save %v: %w", h, b.err)
	}
	select {
	case <-b.release:
		return b.Backend.Save(ctx, h, rd)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *faultyBackend) Unwrap() backend.Backend { return b.Backend }

// within fails the test if fn does not return within d.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func TestWriterCancel(t *testing.T) {
	t.Parallel()
	const okPacks = 2
	be := newFaultyBackend(okPacks, nil)
	r := newWriteRepo(t, be, 1, repository.CompressionAuto)
	src := newBlobSource(6)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := r.StartWriting(ctx, repository.WriteOptions{PackSize: repository.MinPackSize}); err != nil {
		t.Fatal(err)
	}

	var saved [][]byte // acknowledged by SaveBlob
	var saveErr error
	within(t, 20*time.Second, "SaveBlob loop", func() {
		go func() { <-be.blocked; cancel() }()
		for i := 0; i < 200 && ctx.Err() == nil; i++ {
			b := src.random(300_000 + i)
			if _, _, _, err := r.SaveBlob(ctx, blob.Data, b, id.ID{}); err != nil {
				saveErr = err
				break
			}
			saved = append(saved, b)
		}
	})
	if ctx.Err() == nil {
		t.Fatalf("the backend never blocked; saved %d blobs, last error %v", len(saved), saveErr)
	}
	var finishErr error
	within(t, 20*time.Second, "Finish", func() { _, finishErr = r.Finish(ctx) })
	if !errors.Is(finishErr, context.Canceled) {
		t.Errorf("Finish(cancelled) = %v, want context.Canceled", finishErr)
	}

	packs, files := checkIndexCoversPacks(t, r)
	if len(packs) != okPacks {
		t.Errorf("%d packs in the backend, want the %d let through", len(packs), okPacks)
	}
	if len(files) == 0 {
		t.Errorf("no index file written after the cancelled write")
	}
	// A later run finds and reads what was uploaded.
	r2 := reopen(t, be)
	found := 0
	for _, b := range saved {
		h := blob.Handle{ID: id.Hash(b), Type: blob.Data}
		if !r2.HasBlob(h) {
			continue
		}
		found++
		if got, err := r2.LoadBlob(t.Context(), h); err != nil || !bytes.Equal(got, b) {
			t.Errorf("LoadBlob(%v) = %d bytes, %v; want the %d bytes saved", h, len(got), err, len(b))
		}
	}
	n := 0
	for _, blobs := range packs {
		n += len(blobs)
	}
	if found != n || r2.Index().Len() != n {
		t.Errorf("reopened index has %d blobs, %d of them saved here; the %d uploaded packs hold %d", r2.Index().Len(), found, len(packs), n)
	}
}

var errDiskFull = errors.New("disk full")

func TestWriterUploadError(t *testing.T) {
	t.Parallel()
	t.Run("during SaveBlob", func(t *testing.T) {
		t.Parallel()
		be := newFaultyBackend(1, backend.Permanent(errDiskFull))
		r := newWriteRepo(t, be, 1, repository.CompressionAuto)
		src := newBlobSource(7)
		startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize})
		var saveErr error
		within(t, 20*time.Second, "SaveBlob loop", func() {
			for i := 0; i < 200 && saveErr == nil; i++ {
				_, _, _, saveErr = r.SaveBlob(t.Context(), blob.Data, src.random(300_000+i), id.ID{})
			}
		})
		var finishErr error
		within(t, 20*time.Second, "Finish", func() { _, finishErr = r.Finish(t.Context()) })
		if !errors.Is(saveErr, errDiskFull) {
			t.Errorf("SaveBlob() after a failed upload = %v, want %v", saveErr, errDiskFull)
		}
		if !errors.Is(finishErr, errDiskFull) {
			t.Errorf("Finish() after a failed upload = %v, want %v", finishErr, errDiskFull)
		}
		if packs, _ := checkIndexCoversPacks(t, r); len(packs) != 1 {
			t.Errorf("%d packs in the backend, want the 1 let through", len(packs))
		}
	})
	t.Run("during Finish", func(t *testing.T) {
		t.Parallel()
		be := newFaultyBackend(0, backend.Permanent(errDiskFull))
		r := newWriteRepo(t, be, 2, repository.CompressionAuto)
		startWriting(t, r, repository.WriteOptions{})
		saveNew(t, r, blob.Data, []byte("data"))
		saveNew(t, r, blob.Tree, []byte("tree"))
		var finishErr error
		within(t, 20*time.Second, "Finish", func() { _, finishErr = r.Finish(t.Context()) })
		if !errors.Is(finishErr, errDiskFull) {
			t.Errorf("Finish() = %v, want %v", finishErr, errDiskFull)
		}
		if n := len(listNames(t, be, backend.PackFile)) + len(listNames(t, be, backend.IndexFile)); n != 0 {
			t.Errorf("%d pack and index files after every upload failed, want 0", n)
		}
		// The repository can write again.
		startWriting(t, r, repository.WriteOptions{})
		if _, _, _, err := r.SaveBlob(t.Context(), blob.Data, []byte("more"), id.ID{}); err != nil {
			t.Errorf("SaveBlob() in a new session = %v, want nil", err)
		}
		if _, err := r.Finish(t.Context()); !errors.Is(err, errDiskFull) {
			t.Errorf("Finish() = %v, want %v", err, errDiskFull)
		}
	})
}

// TestWriterIndexSaveError makes the index file written after 50000 blobs
// fail; the packs it listed reached the backend, so Finish must still index
// them.
func TestWriterIndexSaveError(t *testing.T) {
	t.Parallel()
	errFlaky := errors.New("flaky")
	be := newFaultyBackend(1<<30, errFlaky)
	be.failIdx = 1
	r := newWriteRepo(t, be, 2, repository.CompressionOff)
	startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize})
	saveErr := saveAll(t.Context(), r, blob.Data, tinyBlobs(150_000))
	_, finishErr := r.Finish(t.Context())
	if !errors.Is(saveErr, errFlaky) && !errors.Is(finishErr, errFlaky) {
		t.Errorf("SaveBlob() = %v, Finish() = %v; want one of them to be %v", saveErr, finishErr, errFlaky)
	}
	checkIndexCoversPacks(t, r)
}

// TestWriterSaveBlobCancelled cancels one SaveBlob call while it waits to
// queue a full pack. The blobs of that pack were acknowledged by earlier
// calls, so the write must not end as a success without them.
func TestWriterSaveBlobCancelled(t *testing.T) {
	t.Parallel()
	be := newFaultyBackend(0, nil)
	r := newWriteRepo(t, be, 1, repository.CompressionAuto)
	src := newBlobSource(8)
	startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize})
	var acked [][]byte
	var saveErr error
	within(t, 30*time.Second, "SaveBlob loop", func() {
		for range 60 {
			b := src.random(1 << 20)
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			_, _, _, saveErr = r.SaveBlob(ctx, blob.Data, b, id.ID{})
			cancel()
			if saveErr != nil {
				return
			}
			acked = append(acked, b)
		}
	})
	if !errors.Is(saveErr, context.DeadlineExceeded) {
		t.Fatalf("SaveBlob() with uploads blocked = %v, want %v", saveErr, context.DeadlineExceeded)
	}
	close(be.release)
	// A caller retrying the lost blobs with a live context: either the
	// session reports that it failed, or the blobs get stored.
	for _, b := range acked {
		if _, _, _, err := r.SaveBlob(t.Context(), blob.Data, b, id.ID{}); err != nil {
			if _, ferr := r.Finish(t.Context()); ferr == nil {
				t.Fatalf("SaveBlob(retry) = %v, but Finish() = nil", err)
			}
			return // the loss is reported
		}
	}
	if _, err := r.Finish(t.Context()); err != nil {
		t.Logf("Finish() = %v", err)
		return // the loss is reported
	}
	r2 := reopen(t, be)
	for i, b := range acked {
		if h := (blob.Handle{ID: id.Hash(b), Type: blob.Data}); !r2.HasBlob(h) {
			t.Errorf("blob %d (%v) was acknowledged, and Finish returned nil, but it is not in the repository", i, h)
		}
	}
}

// TestWriterEmptyFinish checks that a session without blobs writes nothing.
func TestWriterEmptyFinish(t *testing.T) {
	t.Parallel()
	be := mem.New()
	r := newWriteRepo(t, be, 2, repository.CompressionAuto)
	before := snapshot(t, be)
	startWriting(t, r, repository.WriteOptions{})
	if st := finish(t, r); st != (repository.WriteStats{}) {
		t.Errorf("Finish() of an empty session = %+v, want zero", st)
	}
	if diff := cmp.Diff(before, snapshot(t, be)); diff != "" {
		t.Errorf("empty session changed the backend:\n%s", diff)
	}
}

// TestWriterTempFiles checks that no temporary pack file outlives a write
// session, however it ends. It sets TMPDIR, so it must not run in parallel
// with other tests.
func TestWriterTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	left := func(when string) {
		t.Helper()
		ents, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("%s: temporary file %s left behind", when, e.Name())
		}
	}
	src := newBlobSource(9)
	save := func(ctx context.Context, r *repository.Repository, n int) error {
		for range n {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if _, _, _, err := r.SaveBlob(ctx, blob.Data, src.random(1<<20), id.ID{}); err != nil {
				return err
			}
		}
		return nil
	}

	t.Run("success", func(t *testing.T) {
		r := newWriteRepo(t, mem.New(), 1, repository.CompressionAuto)
		startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize})
		if err := save(t.Context(), r, 10); err != nil {
			t.Fatal(err)
		}
		saveNew(t, r, blob.Tree, src.tree(1000))
		// The open pack is a file of TMPDIR, unlinked at once, so that a
		// killed process leaves none.
		if open := openFilesIn(t, tmp); len(open) == 0 {
			t.Errorf("no open pack file in TMPDIR during the session; is this test still meaningful?")
		} else if !strings.HasSuffix(open[0], " (deleted)") {
			t.Errorf("open pack file %s has a name", open[0])
		}
		left("during the session")
		finish(t, r)
		left("after Finish")
	})
	t.Run("dry run", func(t *testing.T) {
		r := newWriteRepo(t, mem.New(), 1, repository.CompressionAuto)
		startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize, DryRun: true})
		if err := save(t.Context(), r, 10); err != nil {
			t.Fatal(err)
		}
		left("during a dry run")
		finish(t, r)
	})
	t.Run("upload error", func(t *testing.T) {
		be := newFaultyBackend(1, backend.Permanent(errDiskFull))
		r := newWriteRepo(t, be, 1, repository.CompressionAuto)
		startWriting(t, r, repository.WriteOptions{PackSize: repository.MinPackSize})
		err := save(t.Context(), r, 40)
		if _, ferr := r.Finish(t.Context()); !errors.Is(err, errDiskFull) && !errors.Is(ferr, errDiskFull) {
			t.Errorf("SaveBlob() = %v, Finish() = %v; want %v", err, ferr, errDiskFull)
		}
		left("after a failed upload")
	})
	t.Run("cancel", func(t *testing.T) {
		be := newFaultyBackend(1, nil)
		r := newWriteRepo(t, be, 1, repository.CompressionAuto)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		if err := r.StartWriting(ctx, repository.WriteOptions{PackSize: repository.MinPackSize}); err != nil {
			t.Fatal(err)
		}
		go func() { <-be.blocked; cancel() }()
		within(t, 20*time.Second, "SaveBlob loop", func() { _ = save(ctx, r, 40) })
		within(t, 20*time.Second, "Finish", func() { _, _ = r.Finish(ctx) })
		left("after cancellation")
	})
}

// openFilesIn returns the targets of this process's descriptors that are
// files of dir (unlinked ones end in " (deleted)").
func openFilesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			out = append(out, target)
		}
	}
	return out
}
