package index_test

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/index"
	gocmp "github.com/google/go-cmp/cmp"
)

// canonical sorts copies so that two indexes that order them differently
// compare equal: the new index orders by pack number, the old by arrival.
func canonical(bs []blob.PackedBlob) []blob.PackedBlob {
	bs = slices.Clone(bs)
	slices.SortFunc(bs, func(a, b blob.PackedBlob) int {
		if c := bytes.Compare(a.PackID[:], b.PackID[:]); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Offset, b.Offset), cmp.Compare(a.Length, b.Length), cmp.Compare(a.UncompressedLength, b.UncompressedLength))
	})
	return bs
}

// randomPack draws a pack from small pools of IDs so that blobs recur in
// several packs, with both types, and whole entries repeat.
func randomPack(r *rand.Rand, nIDs, nPacks int) index.Pack {
	p := index.Pack{ID: testID(1_000_000 + r.IntN(nPacks))}
	for range r.IntN(6) {
		n := r.IntN(nIDs)
		typ := blob.Data
		if r.IntN(4) == 0 {
			typ = blob.Tree
		}
		// One plaintext size per blob; stored length varies by copy.
		plain := uint32(100 + n)
		b := blob.Blob{Handle: blob.Handle{ID: testID(n), Type: typ}, Offset: uint32(r.IntN(3)) * 1000}
		if r.IntN(2) == 0 {
			b.Length = plain + 32 // the sealed blob carries 32 bytes of overhead
		} else {
			b.Length, b.UncompressedLength = 40+uint32(r.IntN(2)), plain
		}
		p.Blobs = append(p.Blobs, b)
	}
	return p
}

func compareIndexes(t *testing.T, step string, got *index.Index, want *mapIndex, nIDs, nPacks int) {
	t.Helper()
	if g, w := got.Len(), want.Len(); g != w {
		t.Fatalf("%s: Len() = %d, want %d", step, g, w)
	}
	// Every ID of small indexes, a spread sample of large ones (Len and
	// Each still cover all).
	for n := 0; n < nIDs+3; n += max(1, nIDs/20_000) {
		for _, typ := range []blob.Type{blob.Data, blob.Tree} {
			h := blob.Handle{ID: testID(n), Type: typ}
			if g, w := canonical(got.Lookup(h)), canonical(want.Lookup(h)); !slices.Equal(g, w) || (g == nil) != (w == nil) {
				t.Fatalf("%s: Lookup(%v) mismatch (-want +got):\n%s", step, h, gocmp.Diff(w, g))
			}
			if g, w := got.Has(h), want.Has(h); g != w {
				t.Fatalf("%s: Has(%v) = %v, want %v", step, h, g, w)
			}
			gs, gok := got.Size(h)
			ws, wok := want.Size(h)
			if gs != ws || gok != wok {
				t.Fatalf("%s: Size(%v) = (%d, %v), want (%d, %v)", step, h, gs, gok, ws, wok)
			}
		}
	}
	for n := range nPacks + 2 {
		p := testID(1_000_000 + n)
		if g, w := got.HasPack(p), want.HasPack(p); g != w {
			t.Fatalf("%s: HasPack(%v) = %v, want %v", step, p.Str(), g, w)
		}
	}
	dups := 0
	want.Each(func(h blob.Handle) {
		if len(want.Lookup(h)) > 1 {
			dups++
		}
	})
	if g := got.Duplicates(); g != dups {
		t.Fatalf("%s: Duplicates() = %d, want %d", step, g, dups)
	}
	seen := make(map[blob.Handle]int)
	got.Each(func(h blob.Handle) { seen[h]++ })
	wantSeen := make(map[blob.Handle]int)
	want.Each(func(h blob.Handle) { wantSeen[h]++ })
	if !maps.Equal(wantSeen, seen) {
		t.Fatalf("%s: Each() visits mismatch (-want +got):\n%s", step, gocmp.Diff(wantSeen, seen))
	}
}

// TestIndexMatchesMapIndex drives the sorted index and the old map index
// with the same random adds, with reads and freezes in between, and
// checks that every read agrees.
func TestIndexMatchesMapIndex(t *testing.T) {
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 7))
		nIDs, nPacks := 1+r.IntN(200), 1+r.IntN(40)
		got, want := index.New(), newMapIndex()
		for step := range 40 {
			switch r.IntN(5) {
			case 0:
				p := randomPack(r, nIDs, nPacks)
				got.AddPack(p)
				want.AddPack(p)
			case 1:
				got.Freeze()
			default:
				f := &index.File{}
				for range r.IntN(4) {
					f.Packs = append(f.Packs, randomPack(r, nIDs, nPacks))
				}
				got.AddFile(f)
				want.AddFile(f)
			}
			if r.IntN(3) == 0 {
				compareIndexes(t, fmt.Sprintf("seed %d step %d", seed, step), got, want, nIDs, nPacks)
			}
		}
		compareIndexes(t, "end", got, want, nIDs, nPacks)
	}
}

// TestIndexOverlayFold adds enough blobs after the first read that the
// overlay is folded into the sorted part, and checks the result against
// the map index.
func TestIndexOverlayFold(t *testing.T) {
	got, want := index.New(), newMapIndex()
	add := func(from, to, pack int) {
		p := index.Pack{ID: testID(1_000_000 + pack)}
		for n := from; n < to; n++ {
			p.Blobs = append(p.Blobs, blob.Blob{Handle: blob.Handle{ID: testID(n), Type: blob.Type(1 + n%2)}, Offset: uint32(n), Length: 40})
		}
		got.AddPack(p)
		want.AddPack(p)
	}
	add(0, 1000, 0)
	got.Has(blob.Handle{}) // sorts the pending blocks
	for i := range 34 {    // 68,000 more blobs, past the overlay limit
		add(1000+i*2000, 3000+i*2000, 1+i)
		add(i*2000, i*2000+10, 100+i) // copies of older blobs
	}
	compareIndexes(t, "after overlay", got, want, 70000, 140)
	got.Freeze()
	compareIndexes(t, "after freeze", got, want, 70000, 140)
}

// TestIndexConcurrentFold is meant for -race: readers hit the index while
// writers add packs both before and after it is sorted.
func TestIndexConcurrentFold(t *testing.T) {
	x := index.New()
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := range 300 {
				x.AddPack(index.Pack{ID: testID(5000 + w*1000 + i), Blobs: []blob.Blob{
					{Handle: blob.Handle{ID: testID(i), Type: blob.Data}, Offset: uint32(w), Length: 40},
				}})
				if i == 100 {
					x.Freeze()
				}
			}
		})
		wg.Go(func() {
			for i := range 300 {
				x.Lookup(dataHandle(i))
				x.Has(dataHandle(i))
				x.Size(dataHandle(i))
				x.Len()
				x.HasPack(testID(5000 + i))
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			x.Each(func(blob.Handle) {})
		}
	})
	wg.Wait()
	if got := x.Len(); got != 300 {
		t.Errorf("Len() = %d, want 300", got)
	}
	for i := range 300 {
		if got := len(x.Lookup(dataHandle(i))); got != 3 {
			t.Errorf("len(Lookup(%v)) = %d, want 3 (one per writer)", dataHandle(i), got)
		}
	}
}

// TestIndexLookupOrderStable checks that folding the overlay into the
// sorted part leaves the order of Lookup's copies (and so Size) alone.
func TestIndexLookupOrderStable(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 11))
		x := index.New()
		x.AddPack(randomPack(r, 30, 10))
		x.Has(blob.Handle{}) // sorts what is there; later adds go to the overlay
		for range 30 {
			x.AddPack(randomPack(r, 30, 10))
		}
		before := make(map[blob.Handle][]blob.PackedBlob)
		for n := range 30 {
			for _, typ := range []blob.Type{blob.Data, blob.Tree} {
				h := blob.Handle{ID: testID(n), Type: typ}
				before[h] = x.Lookup(h)
			}
		}
		x.Freeze()
		for h, want := range before {
			if diff := gocmp.Diff(want, x.Lookup(h)); diff != "" {
				t.Fatalf("seed %d: Lookup(%v) after Freeze mismatch (-before +after):\n%s", seed, h, diff)
			}
		}
	}
}

// TestIndexLargeParts goes past the size where a part's records leave
// the Go heap for a mapped arena, grows it several times while loading,
// folds an overlay into it without Freeze (adds to one type past the
// overlay limit) and checks every answer against the map index.
func TestIndexLargeParts(t *testing.T) {
	got, want := index.New(), newMapIndex()
	add := func(from, to, pack int, typ blob.Type) {
		p := index.Pack{ID: testID(1_000_000 + pack)}
		for n := from; n < to; n++ {
			p.Blobs = append(p.Blobs, blob.Blob{Handle: blob.Handle{ID: testID(n), Type: typ}, Offset: uint32(n), Length: 40 + uint32(n%7)})
		}
		got.AddPack(p)
		want.AddPack(p)
	}
	const loaded, later = 40_000, 70_000
	for i := range loaded / 5000 {
		add(i*5000, (i+1)*5000, i, blob.Data)
		add(i*5000, i*5000+50, 500+i, blob.Data) // copies in a second pack
		add(i*5000, i*5000+20, 600+i, blob.Tree) // the same IDs as trees
	}
	if got.Len() != want.Len() { // the first read builds the parts
		t.Fatalf("Len() = %d, want %d", got.Len(), want.Len())
	}
	for i := range later / 5000 {
		add(loaded+i*5000, loaded+(i+1)*5000, 700+i, blob.Data)
		add(i*5000, i*5000+5, 800+i, blob.Data)
	}
	compareIndexes(t, "after overlay fold", got, want, loaded+later+10, 900)
	got.Freeze()
	compareIndexes(t, "after freeze", got, want, loaded+later+10, 900)
}
