package prune

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/ui"
)

// Limit is the unused space tolerated after a prune, as --max-unused
// gives it: a percentage of the used space after pruning, a byte count,
// or unlimited.
type Limit struct {
	percent   float64 // used when bytes < 0 and !unlimited
	bytes     int64   // < 0: a percentage
	unlimited bool
}

// DefaultLimit is restic's default, 5%.
var DefaultLimit = Limit{percent: 5, bytes: -1}

// ParseLimit reads "unlimited", "N%" (0 ≤ N < 100) or a size; parseSize
// reads sizes with their suffixes.
func ParseLimit(s string, parseSize func(string) (int64, error)) (Limit, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Limit{}, fmt.Errorf("invalid limit %q", s)
	case s == "unlimited":
		return Limit{unlimited: true}, nil
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
		if err != nil || math.IsNaN(p) {
			return Limit{}, fmt.Errorf("invalid percentage %q", s)
		}
		if p < 0 || p >= 100 {
			return Limit{}, fmt.Errorf("percentage %q must be at least 0%% and below 100%%", s)
		}
		return Limit{percent: p, bytes: -1}, nil
	}
	n, err := parseSize(s)
	if err != nil {
		return Limit{}, err
	}
	return Limit{bytes: n}, nil
}

// Bytes returns the unused bytes tolerated next to used bytes of data. A
// percentage is of the total after pruning, so p% of the total is
// p/(100-p) of the used part.
func (l Limit) Bytes(used uint64) uint64 {
	switch {
	case l.unlimited:
		return math.MaxUint64
	case l.bytes >= 0:
		return uint64(l.bytes)
	}
	return uint64(l.percent / (100 - l.percent) * float64(used))
}

// String returns the limit as ParseLimit reads it.
func (l Limit) String() string {
	switch {
	case l.unlimited:
		return "unlimited"
	case l.bytes >= 0:
		return strconv.FormatInt(l.bytes, 10)
	}
	return strconv.FormatFloat(l.percent, 'f', -1, 64) + "%"
}

// Options choose what a prune repacks.
type Options struct {
	// MaxUnused is the unused space to tolerate; the zero Limit is 0 bytes.
	MaxUnused Limit
	// MaxRepackBytes bounds the bytes of packs repacked; < 0: no bound.
	MaxRepackBytes int64
	// RepackCacheableOnly repacks tree packs only.
	RepackCacheableOnly bool
	// RepackSmall repacks packs below 80% of the target size (when there
	// are at least ten of them) instead of only tiny ones.
	RepackSmall bool
	// RepackSmallerThan, if > 0, is the size below which a pack counts
	// as small (restic's --repack-smaller-than); it overrides RepackSmall.
	RepackSmallerThan int64
	// RepackUncompressed repacks data packs without any compressed blob
	// (repository version 2).
	RepackUncompressed bool
	// PackSize is the target pack size in bytes; 0 means the default.
	PackSize int
	// RepackProgress, if set, is called by Execute when it starts
	// repacking, with the number of packs to repack; the Progress it
	// returns counts them (AddFiles) and is finished by Execute.
	RepackProgress func(total int) *ui.Progress
	// Exclusive prunes in one phase, deleting packs at once: for a
	// prune that holds an exclusive lock. Otherwise Execute condemns
	// the packs and leaves a pending record (see the package doc).
	Exclusive bool
	// Grace is how long after its index swap a record with lock holders
	// waits at least before phase 2 deletes its packs.
	Grace time.Duration
}
