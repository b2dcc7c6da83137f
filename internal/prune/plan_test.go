package prune_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/google/go-cmp/cmp"
)

// bid names a blob of a test repository.
func bid(name string) id.ID { return sha256.Sum256([]byte(name)) }

// b is a blob entry spec: name, type, stored length, compressed.
type b struct {
	name       string
	tree       bool
	length     uint32
	compressed bool
}

func handle(x b) blob.Handle {
	t := blob.Data
	if x.tree {
		t = blob.Tree
	}
	return blob.Handle{ID: bid(x.name), Type: t}
}

// mkPack lays the blobs out one after another.
func mkPack(name string, blobs ...b) repository.IndexedPack {
	p := repository.IndexedPack{ID: bid("pack " + name)}
	var off uint32
	for _, x := range blobs {
		pb := blob.Blob{Handle: handle(x), Offset: off, Length: x.length}
		if x.compressed {
			pb.UncompressedLength = x.length * 2
		}
		p.Blobs = append(p.Blobs, pb)
		off += x.length
	}
	return p
}

// repo is a test repository: indexed packs (all stored with the right
// size unless listed otherwise) and the names of the used blobs.
type repo struct {
	packs    []repository.IndexedPack
	unstored []string         // indexed but not stored
	damaged  []string         // stored with a wrong size
	extra    map[string]int64 // stored, not indexed
	used     []b
	version  uint
}

func (r repo) input() prune.Input {
	in := prune.Input{Packs: r.packs, Stored: map[id.ID]int64{}, Used: map[blob.Handle]struct{}{}, RepoVersion: r.version}
	if in.RepoVersion == 0 {
		in.RepoVersion = 2
	}
	for _, p := range r.packs {
		in.Stored[p.ID] = p.Size()
	}
	for _, n := range r.unstored {
		delete(in.Stored, bid("pack "+n))
	}
	for _, n := range r.damaged {
		in.Stored[bid("pack "+n)] += 7
	}
	for n, size := range r.extra {
		in.Stored[bid("pack "+n)] = size
	}
	for _, x := range r.used {
		in.Used[handle(x)] = struct{}{}
	}
	return in
}

// outcome is a plan in names.
type outcome struct {
	Unref, Remove, Missing, Keep []string
	Repack                       map[string][]string // pack → blobs copied
}

func names(packs map[id.ID]string, ids []id.ID) []string {
	var out []string
	for _, v := range ids {
		out = append(out, packs[v])
	}
	slices.Sort(out)
	return out
}

func describe(t *testing.T, r repo, p *prune.Plan) outcome {
	t.Helper()
	packs := map[id.ID]string{}
	blobs := map[blob.Handle]string{}
	for _, ip := range r.packs {
		for _, x := range ip.Blobs {
			for _, u := range r.used {
				if handle(u) == x.Handle {
					blobs[x.Handle] = u.name
				}
			}
		}
	}
	for _, n := range []string{"a", "b", "c", "d", "e", "new", "old"} {
		packs[bid("pack "+n)] = n
	}
	for i := range 20 {
		packs[bid(fmt.Sprintf("pack s%d", i))] = fmt.Sprintf("s%d", i)
	}
	var o outcome
	o.Unref = names(packs, p.Unreferenced)
	o.Remove = names(packs, p.Remove)
	o.Missing = names(packs, p.Missing)
	var keep []id.ID
	for _, k := range p.Keep {
		keep = append(keep, k.ID)
	}
	o.Keep = names(packs, keep)
	for _, rp := range p.Repack {
		if o.Repack == nil {
			o.Repack = map[string][]string{}
		}
		var c []string
		for _, x := range rp.Copy {
			c = append(c, blobs[x.Handle])
		}
		slices.Sort(c)
		o.Repack[packs[rp.Pack.ID]] = c
	}
	return o
}

var (
	d1 = b{name: "d1", length: 1 << 20, compressed: true}
	d2 = b{name: "d2", length: 1 << 20, compressed: true}
	d3 = b{name: "d3", length: 1 << 20, compressed: true}
	d4 = b{name: "d4", length: 1 << 20, compressed: true}
	d5 = b{name: "d5", length: 4 << 20, compressed: true}
	t1 = b{name: "t1", tree: true, length: 2000, compressed: true}
	t2 = b{name: "t2", tree: true, length: 3000, compressed: true}
)

func limit(t *testing.T, s string) prune.Limit {
	t.Helper()
	l, err := prune.ParseLimit(s, func(s string) (int64, error) {
		var n int64
		_, err := fmt.Sscanf(s, "%d", &n)
		return n, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDecide(t *testing.T) {
	base := repo{
		packs: []repository.IndexedPack{
			mkPack("a", d1, d2),                        // fully used
			mkPack("b", d3, d4),                        // d4 unused: partly used
			mkPack("c", b{name: "x", length: 1 << 20}), // unused
			mkPack("d", t1, t2),                        // tree pack, t2 unused
		},
		used: []b{d1, d2, d3, t1},
	}
	tests := []struct {
		name string
		repo repo
		opts prune.Options
		want outcome
	}{
		{
			name: "max-unused 0 repacks every partly used pack",
			repo: base,
			opts: prune.Options{MaxUnused: limit(t, "0"), MaxRepackBytes: -1},
			want: outcome{Remove: []string{"c"}, Keep: []string{"a"}, Repack: map[string][]string{"b": {"d3"}, "d": {"t1"}}},
		},
		{
			name: "unlimited keeps partly used data packs but still repacks trees",
			repo: base,
			opts: prune.Options{MaxUnused: limit(t, "unlimited"), MaxRepackBytes: -1},
			want: outcome{Remove: []string{"c"}, Keep: []string{"a", "b"}, Repack: map[string][]string{"d": {"t1"}}},
		},
		{
			name: "max-repack-size 0 repacks nothing",
			repo: base,
			opts: prune.Options{MaxUnused: limit(t, "0"), MaxRepackBytes: 0},
			want: outcome{Remove: []string{"c"}, Keep: []string{"a", "b", "d"}},
		},
		{
			name: "cacheable only leaves data packs",
			repo: base,
			opts: prune.Options{MaxUnused: limit(t, "0"), MaxRepackBytes: -1, RepackCacheableOnly: true},
			want: outcome{Remove: []string{"c"}, Keep: []string{"a", "b"}, Repack: map[string][]string{"d": {"t1"}}},
		},
		{
			name: "percentage: 1 MiB unused of 3 MiB used is within 50%",
			repo: base,
			opts: prune.Options{MaxUnused: limit(t, "50%"), MaxRepackBytes: -1},
			want: outcome{Remove: []string{"c"}, Keep: []string{"a", "b"}, Repack: map[string][]string{"d": {"t1"}}},
		},
		{
			name: "percentage: but not within 10%",
			repo: base,
			opts: prune.Options{MaxUnused: limit(t, "10%"), MaxRepackBytes: -1},
			want: outcome{Remove: []string{"c"}, Keep: []string{"a"}, Repack: map[string][]string{"b": {"d3"}, "d": {"t1"}}},
		},
		{
			name: "unreferenced and missing packs",
			repo: repo{
				packs:    []repository.IndexedPack{mkPack("a", d1), mkPack("b", d2)},
				unstored: []string{"b"},
				extra:    map[string]int64{"e": 1234},
				used:     []b{d1},
			},
			opts: prune.Options{MaxUnused: limit(t, "0"), MaxRepackBytes: -1},
			want: outcome{Unref: []string{"e"}, Missing: []string{"b"}, Keep: []string{"a"}},
		},
		{
			name: "a damaged pack whose blobs are elsewhere is deleted",
			repo: repo{
				packs:   []repository.IndexedPack{mkPack("a", d1, d2), mkPack("b", d2)},
				damaged: []string{"b"},
				used:    []b{d1, d2},
			},
			opts: prune.Options{MaxUnused: limit(t, "0"), MaxRepackBytes: -1},
			want: outcome{Remove: []string{"b"}, Keep: []string{"a"}},
		},
		{
			name: "duplicates count in the fuller pack: an interrupted repack is finished",
			repo: repo{
				// old: partly used, its used blobs already copied to new.
				packs: []repository.IndexedPack{mkPack("old", d1, d2, d3), mkPack("new", d1, d2)},
				used:  []b{d1, d2},
			},
			opts: prune.Options{MaxUnused: limit(t, "0"), MaxRepackBytes: -1},
			want: outcome{Remove: []string{"old"}, Keep: []string{"new"}},
		},
		{
			name: "blobs a kept pack holds are not copied",
			repo: repo{
				packs: []repository.IndexedPack{mkPack("a", d1, d2, d5), mkPack("b", d1, d3, d4)},
				used:  []b{d1, d2, d5, d3},
			},
			opts: prune.Options{MaxUnused: limit(t, "0"), MaxRepackBytes: -1},
			want: outcome{Keep: []string{"a"}, Repack: map[string][]string{"b": {"d3"}}},
		},
		{
			name: "mixed packs are repacked",
			repo: repo{packs: []repository.IndexedPack{mkPack("a", d1, t1)}, used: []b{d1, t1}},
			opts: prune.Options{MaxUnused: limit(t, "unlimited"), MaxRepackBytes: -1},
			want: outcome{Repack: map[string][]string{"a": {"d1", "t1"}}},
		},
		{
			name: "uncompressed tree packs are repacked in version 2",
			repo: repo{packs: []repository.IndexedPack{mkPack("a", b{name: "t", tree: true, length: 900000})}, used: []b{{name: "t", tree: true}}},
			opts: prune.Options{MaxUnused: limit(t, "unlimited"), MaxRepackBytes: -1},
			want: outcome{Repack: map[string][]string{"a": {"t"}}},
		},
		{
			name: "but not in version 1",
			repo: repo{packs: []repository.IndexedPack{mkPack("a", b{name: "t", tree: true, length: 900000})}, used: []b{{name: "t", tree: true}}, version: 1},
			opts: prune.Options{MaxUnused: limit(t, "unlimited"), MaxRepackBytes: -1},
			want: outcome{Keep: []string{"a"}},
		},
		{
			name: "uncompressed data packs only with repack-uncompressed",
			repo: repo{packs: []repository.IndexedPack{mkPack("a", b{name: "u", length: 900000})}, used: []b{{name: "u"}}},
			opts: prune.Options{MaxUnused: limit(t, "unlimited"), MaxRepackBytes: -1, RepackUncompressed: true},
			want: outcome{Repack: map[string][]string{"a": {"u"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := prune.Decide(tc.repo.input(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, describe(t, tc.repo, p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			s := p.Stats
			if s.UnusedAfter() > s.TotalSize() || s.PruneBlobs() > s.TotalBlobs() {
				t.Errorf("inconsistent stats %+v", s)
			}
		})
	}
}

// TestSmallPacks: fewer than ten small, fully used packs stay; ten are
// repacked together.
func TestSmallPacks(t *testing.T) {
	for _, n := range []int{9, 10} {
		var r repo
		for i := range n {
			x := b{name: fmt.Sprintf("small %d", i), length: 1000, compressed: true}
			r.packs = append(r.packs, mkPack(fmt.Sprintf("s%d", i), x))
			r.used = append(r.used, x)
		}
		p, err := prune.Decide(r.input(), prune.Options{MaxUnused: limit(t, "unlimited"), MaxRepackBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		wantRepack := 0
		if n >= 10 {
			wantRepack = n
		}
		if len(p.Repack) != wantRepack || len(p.Keep) != n-wantRepack {
			t.Errorf("%d small packs: repack %d, keep %d; want repack %d", n, len(p.Repack), len(p.Keep), wantRepack)
		}
	}
	// With RepackSmall, packs below 80% of the target count as small.
	var r repo
	for i := range 10 {
		x := b{name: fmt.Sprintf("mid %d", i), length: 8 << 20, compressed: true}
		r.packs = append(r.packs, mkPack(fmt.Sprintf("s%d", i), x))
		r.used = append(r.used, x)
	}
	for _, small := range []bool{false, true} {
		p, err := prune.Decide(r.input(), prune.Options{MaxUnused: limit(t, "unlimited"), MaxRepackBytes: -1, RepackSmall: small})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(p.Repack) > 0; got != small {
			t.Errorf("RepackSmall=%v: repacks %d half-size packs", small, len(p.Repack))
		}
	}
	// RepackSmallerThan sets the bound itself: 8 MiB packs are small
	// below 9 MiB, not below 8 MiB.
	for limitBytes, want := range map[int64]bool{8 << 20: false, 9 << 20: true} {
		p, err := prune.Decide(r.input(), prune.Options{MaxUnused: limit(t, "unlimited"), MaxRepackBytes: -1, RepackSmallerThan: limitBytes})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(p.Repack) > 0; got != want {
			t.Errorf("RepackSmallerThan=%d: repacks %d packs of 8 MiB", limitBytes, len(p.Repack))
		}
	}
}

func TestDecideDataMissing(t *testing.T) {
	for name, r := range map[string]repo{
		"not indexed": {packs: []repository.IndexedPack{mkPack("a", d1)}, used: []b{d1, d2}},
		"not stored":  {packs: []repository.IndexedPack{mkPack("a", d1), mkPack("b", d2)}, unstored: []string{"b"}, used: []b{d1, d2}},
		"damaged":     {packs: []repository.IndexedPack{mkPack("a", d1), mkPack("b", d2)}, damaged: []string{"b"}, used: []b{d1, d2}},
	} {
		_, err := prune.Decide(r.input(), prune.Options{MaxRepackBytes: -1})
		if !errors.Is(err, prune.ErrDataMissing) {
			t.Errorf("%s: Decide error %v, want ErrDataMissing", name, err)
		}
	}
}

func TestStats(t *testing.T) {
	r := repo{
		packs: []repository.IndexedPack{mkPack("a", d1, d2), mkPack("b", d3, d4), mkPack("c", d5), mkPack("new", d1)},
		extra: map[string]int64{"e": 100},
		used:  []b{d1, d2, d3},
	}
	p, err := prune.Decide(r.input(), prune.Options{MaxUnused: limit(t, "0"), MaxRepackBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Stats
	const mib = 1 << 20
	want := prune.Stats{
		Blobs:     prune.Counts{Used: 3, Duplicate: 1, Unused: 2, Remove: 2, Repack: 2, RepackRemove: 1},
		Size:      prune.Counts{Used: 3 * mib, Duplicate: mib, Unused: 5 * mib, Remove: 5 * mib, Repack: 2*mib + uint64(r.packs[1].HeaderSize()), RepackRemove: mib},
		UnrefSize: 100,
		Packs:     prune.PackCounts{Used: 1, PartlyUsed: 1, Unused: 2, Unref: 1, Keep: 1, Repack: 1, Remove: 2},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if s.UnusedAfter() != 0 {
		t.Errorf("UnusedAfter = %d, want 0", s.UnusedAfter())
	}
}

func TestLimit(t *testing.T) {
	parse := func(s string) (int64, error) {
		var n int64
		_, err := fmt.Sscanf(s, "%d", &n)
		return n, err
	}
	tests := []struct {
		in   string
		used uint64
		want uint64
		err  bool
	}{
		{"5%", 950, 50, false},
		{"0%", 1000, 0, false},
		{"50%", 1000, 1000, false},
		{"1234", 1, 1234, false},
		{"unlimited", 1, 1<<64 - 1, false},
		{"100%", 0, 0, true},
		{"-1%", 0, 0, true},
		{"x%", 0, 0, true},
		{"", 0, 0, true},
	}
	for _, tc := range tests {
		l, err := prune.ParseLimit(tc.in, parse)
		if (err != nil) != tc.err {
			t.Errorf("ParseLimit(%q) error %v", tc.in, err)
			continue
		}
		if err == nil && l.Bytes(tc.used) != tc.want {
			t.Errorf("ParseLimit(%q).Bytes(%d) = %d, want %d", tc.in, tc.used, l.Bytes(tc.used), tc.want)
		}
	}
}
