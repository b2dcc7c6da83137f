package checker

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-backup/cairn/internal/id"
)

// MaxGroups is the largest t of an n/t subset: packs are grouped by the
// first byte of their ID.
const MaxGroups = 256

// ErrInvalidSubset is wrapped by every error of [ParseSubset].
var ErrInvalidSubset = errors.New("invalid --read-data-subset")

// Subset says which packs to read in full. Exactly one way of choosing is
// set; the zero value is invalid.
type Subset struct {
	// Group of Groups: the packs whose ID's first byte, modulo Groups, is
	// Group-1. Reading the groups 1/t to t/t in turn reads every pack once.
	Group, Groups uint
	// Percent of the packs, at least one, chosen at random.
	Percent float64
	// Bytes: packs chosen at random whose sizes add up to at most Bytes
	// (at least one pack).
	Bytes int64
}

// All is the subset of all packs (--read-data).
var All = Subset{Group: 1, Groups: 1}

// ParseSubset parses the value of --read-data-subset: "n/t" (1 ≤ n ≤ t ≤
// 256), "x%" (0 < x ≤ 100) or a size such as "50M" (suffixes b, k, m, g,
// t in powers of 1024; at least one byte).
func ParseSubset(s string) (Subset, error) {
	switch {
	case strings.Contains(s, "/"):
		ns, ts, _ := strings.Cut(s, "/")
		n, err1 := strconv.ParseUint(ns, 10, 32)
		t, err2 := strconv.ParseUint(ts, 10, 32)
		if err1 != nil || err2 != nil {
			return Subset{}, fmt.Errorf("%w %q: n/t must be two whole numbers, such as 1/5", ErrInvalidSubset, s)
		}
		if n < 1 || n > t {
			return Subset{}, fmt.Errorf("%w %q: n/t needs 1 <= n <= t, such as 1/5", ErrInvalidSubset, s)
		}
		if t > MaxGroups {
			return Subset{}, fmt.Errorf("%w %q: t must be at most %d", ErrInvalidSubset, s, MaxGroups)
		}
		return Subset{Group: uint(n), Groups: uint(t)}, nil
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
		if err != nil {
			return Subset{}, fmt.Errorf("%w %q: x%% needs a number x", ErrInvalidSubset, s)
		}
		if !(p > 0 && p <= 100) {
			return Subset{}, fmt.Errorf("%w %q: x%% needs 0 < x <= 100", ErrInvalidSubset, s)
		}
		return Subset{Percent: p}, nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return Subset{}, fmt.Errorf("%w %q: want n/t, x%% or a size such as 500M", ErrInvalidSubset, s)
	}
	if n < 1 {
		return Subset{}, fmt.Errorf("%w %q: the size must be at least one byte", ErrInvalidSubset, s)
	}
	return Subset{Bytes: n}, nil
}

// parseBytes parses a whole number with an optional b, k, m, g or t
// suffix (either case; powers of 1024).
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty size")
	}
	shift := 0
	num := s
	switch s[len(s)-1] {
	case 'b', 'B':
		num = s[:len(s)-1]
	case 'k', 'K':
		shift, num = 10, s[:len(s)-1]
	case 'm', 'M':
		shift, num = 20, s[:len(s)-1]
	case 'g', 'G':
		shift, num = 30, s[:len(s)-1]
	case 't', 'T':
		shift, num = 40, s[:len(s)-1]
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > (1<<63-1)>>shift {
		return 0, fmt.Errorf("size %q out of range", s)
	}
	return v << shift, nil
}

// Select returns the packs of the subset among packs (ID → size), sorted
// by ID. Random choices come from rng.
func (s Subset) Select(packs map[id.ID]int64, rng *rand.Rand) []id.ID {
	all := sortedIDs(packs)
	var out []id.ID
	switch {
	case s.Groups > 0:
		for _, pid := range all {
			if uint(pid[0])%s.Groups == s.Group-1 {
				out = append(out, pid)
			}
		}
		return out
	case s.Percent > 0:
		n := int(float64(len(all)) * s.Percent / 100)
		if n < 1 && len(all) > 0 {
			n = 1
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		out = all[:n]
	case s.Bytes > 0:
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		var total int64
		for _, pid := range all {
			if total+packs[pid] <= s.Bytes {
				total += packs[pid]
				out = append(out, pid)
			}
		}
		if len(out) == 0 && len(all) > 0 {
			out = all[:1]
		}
	}
	slices.SortFunc(out, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}
