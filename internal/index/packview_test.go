package index_test

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	gocmp "github.com/google/go-cmp/cmp"
)

// wantPacks is what a PackView must say for packs added: per pack, the
// union of its entries without repeats, by offset, ID, type and lengths.
func wantPacks(packs []index.Pack) map[id.ID][]blob.Blob {
	out := make(map[id.ID][]blob.Blob)
	for _, p := range packs {
		for _, b := range p.Blobs {
			if !slices.Contains(out[p.ID], b) {
				out[p.ID] = append(out[p.ID], b)
			}
		}
	}
	for pid, bs := range out {
		slices.SortFunc(bs, func(a, b blob.Blob) int {
			return cmp.Or(cmp.Compare(a.Offset, b.Offset), bytes.Compare(a.ID[:], b.ID[:]), cmp.Compare(a.Type, b.Type),
				cmp.Compare(a.Length, b.Length), cmp.Compare(a.UncompressedLength, b.UncompressedLength))
		})
		if len(bs) == 0 {
			delete(out, pid)
		}
	}
	return out
}

func checkView(t *testing.T, step string, v *index.PackView, want map[id.ID][]blob.Blob) {
	t.Helper()
	ids := slices.Collect(func(yield func(id.ID) bool) {
		for pid := range want {
			if !yield(pid) {
				return
			}
		}
	})
	slices.SortFunc(ids, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	if diff := gocmp.Diff(ids, v.IDs()); diff != "" {
		t.Fatalf("%s: IDs() mismatch (-want +got):\n%s", step, diff)
	}
	for pid, bs := range want {
		if diff := gocmp.Diff(bs, v.Blobs(pid, nil)); diff != "" {
			t.Fatalf("%s: Blobs(%v) mismatch (-want +got):\n%s", step, pid.Str(), diff)
		}
		if v.Len(pid) != len(bs) {
			t.Fatalf("%s: Len(%v) = %d, want %d", step, pid.Str(), v.Len(pid), len(bs))
		}
	}
	if got := v.Blobs(testID(999), nil); got != nil {
		t.Fatalf("%s: Blobs of an unknown pack = %v, want nil", step, got)
	}
}

// TestPackView checks the per-pack listing against the packs added, for
// random packs with repeated entries, blobs in several packs and one ID
// of both types, and that adds while a view is open (past the overlay
// limit) neither change the view nor get lost.
func TestPackView(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 3))
		x := index.New()
		var added []index.Pack
		for range 1 + r.IntN(30) {
			p := randomPack(r, 1+r.IntN(100), 1+r.IntN(20))
			added = append(added, p)
			x.AddPack(p)
			if r.IntN(5) == 0 {
				x.Freeze()
			}
		}
		v := x.PackView()
		checkView(t, "random", v, wantPacks(added))
		v.Close()
	}

	x := index.New()
	first := index.Pack{ID: testID(1_000_000)}
	for n := range 1000 {
		first.Blobs = append(first.Blobs, blob.Blob{Handle: blob.Handle{ID: testID(n), Type: blob.Data}, Offset: uint32(1000 - n), Length: 40})
	}
	x.AddPack(first)
	v := x.PackView()
	want := wantPacks([]index.Pack{first})
	all := []index.Pack{first}
	for i := range 40 { // 80,000 blobs of one type: past the overlay limit
		p := index.Pack{ID: testID(1_000_001 + i)}
		for n := range 2000 {
			p.Blobs = append(p.Blobs, blob.Blob{Handle: blob.Handle{ID: testID(10_000 + i*2000 + n), Type: blob.Data}, Offset: uint32(n), Length: 40})
		}
		x.AddPack(p)
		all = append(all, p)
	}
	x.Freeze()
	checkView(t, "while adding", v, want)
	v.Close()
	if !x.Has(blob.Handle{ID: testID(10_000 + 79_999), Type: blob.Data}) {
		t.Fatal("a blob added while a view was open is lost")
	}
	v = x.PackView()
	defer v.Close()
	checkView(t, "after close", v, wantPacks(all))
}
