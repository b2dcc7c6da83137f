package checker_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cairn-backup/cairn/internal/checker"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/google/go-cmp/cmp"
)

func TestParseSubset(t *testing.T) {
	good := []struct {
		in   string
		want checker.Subset
	}{
		{"1/1", checker.All},
		{"1/5", checker.Subset{Group: 1, Groups: 5}},
		{"5/5", checker.Subset{Group: 5, Groups: 5}},
		{"256/256", checker.Subset{Group: 256, Groups: 256}},
		{"50%", checker.Subset{Percent: 50}},
		{"0.5%", checker.Subset{Percent: 0.5}},
		{"100%", checker.Subset{Percent: 100}},
		{"1", checker.Subset{Bytes: 1}},
		{"100b", checker.Subset{Bytes: 100}},
		{"10k", checker.Subset{Bytes: 10 << 10}},
		{"50M", checker.Subset{Bytes: 50 << 20}},
		{"2g", checker.Subset{Bytes: 2 << 30}},
		{"1T", checker.Subset{Bytes: 1 << 40}},
	}
	for _, c := range good {
		got, err := checker.ParseSubset(c.in)
		if err != nil {
			t.Errorf("ParseSubset(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseSubset(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, in := range []string{
		"", "0/5", "6/5", "1/0", "1/257", "1/300", "-1/5", "1/2/3", "a/b", "1/",
		"0%", "-5%", "101%", "x%", "%",
		"0", "0M", "-1", "abc", "1.5M", "10x", "99999999999T",
	} {
		if got, err := checker.ParseSubset(in); !errors.Is(err, checker.ErrInvalidSubset) {
			t.Errorf("ParseSubset(%q) = %+v, %v; want an error wrapping ErrInvalidSubset", in, got, err)
		}
	}
}

// packSet returns n packs whose IDs start with the bytes 0, 1, ..., each
// of the given size.
func packSet(n int, size int64) map[id.ID]int64 {
	out := make(map[id.ID]int64, n)
	for i := range n {
		var p id.ID
		p[0], p[1] = byte(i), byte(i>>8)
		out[p] = size
	}
	return out
}

func TestSelectGroups(t *testing.T) {
	packs := packSet(600, 10)
	seen := make(map[id.ID]int)
	for n := uint(1); n <= 7; n++ {
		sel := checker.Subset{Group: n, Groups: 7}.Select(packs, nil)
		for _, p := range sel {
			if uint(p[0])%7 != n-1 {
				t.Errorf("group %d/7 holds pack starting with %d", n, p[0])
			}
			seen[p]++
		}
	}
	if len(seen) != len(packs) {
		t.Errorf("groups 1/7..7/7 cover %d of %d packs", len(seen), len(packs))
	}
	for p, k := range seen {
		if k != 1 {
			t.Errorf("pack %v in %d groups", p.Str(), k)
		}
	}
	if got := checker.All.Select(packs, nil); len(got) != len(packs) {
		t.Errorf("All selects %d of %d packs", len(got), len(packs))
	}
}

func TestSelectRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name    string
		s       checker.Subset
		packs   map[id.ID]int64
		wantLen int
	}{
		{"half", checker.Subset{Percent: 50}, packSet(10, 100), 5},
		{"rounds down", checker.Subset{Percent: 19}, packSet(10, 100), 1},
		{"at least one", checker.Subset{Percent: 0.1}, packSet(10, 100), 1},
		{"everything", checker.Subset{Percent: 100}, packSet(10, 100), 10},
		{"none to choose from", checker.Subset{Percent: 50}, packSet(0, 100), 0},
		{"bytes", checker.Subset{Bytes: 350}, packSet(10, 100), 3},
		{"bytes, exact", checker.Subset{Bytes: 400}, packSet(10, 100), 4},
		{"bytes, more than all", checker.Subset{Bytes: 1 << 40}, packSet(10, 100), 10},
		{"bytes, less than a pack", checker.Subset{Bytes: 1}, packSet(10, 100), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sel := c.s.Select(c.packs, rng)
			if len(sel) != c.wantLen {
				t.Fatalf("Select = %d packs, want %d", len(sel), c.wantLen)
			}
			seen := id.NewSet()
			for _, p := range sel {
				if _, ok := c.packs[p]; !ok || seen.Has(p) {
					t.Errorf("Select returned unknown or repeated pack %v", p.Str())
				}
				seen.Insert(p)
			}
		})
	}

	// Different seeds choose differently; the same seed the same.
	packs := packSet(100, 1)
	s := checker.Subset{Percent: 10}
	a := s.Select(packs, rand.New(rand.NewPCG(1, 1)))
	b := s.Select(packs, rand.New(rand.NewPCG(1, 1)))
	c := s.Select(packs, rand.New(rand.NewPCG(2, 2)))
	if !cmp.Equal(a, b) {
		t.Error("same seed, different selections")
	}
	if cmp.Equal(a, c) {
		t.Error("different seeds, same selection of 10 out of 100")
	}
}
