package prune

import (
	"bytes"
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
)

// blobKinds is the set of blob types in a pack.
type blobKinds uint8

const (
	hasData blobKinds = 1 << iota
	hasTree
)

// packState is what planning learns about one indexed, stored pack.
type packState struct {
	pack     *repository.IndexedPack
	stored   int64
	damaged  bool // stored size differs from what the index implies
	kinds    blobKinds
	compress bool // some blob is compressed

	neededN int // entries of needed blobs, copies included

	usedN, unusedN       uint64
	usedSize, unusedSize uint64 // usedSize includes the header
}

func (s *packState) size() uint64 { return s.usedSize + s.unusedSize }

// data reports whether the pack holds data blobs only.
func (s *packState) data() bool { return s.kinds == hasData }

// mustCompress reports whether the pack is repacked to compress it: in
// repository version 2, a tree pack without any compressed blob (written
// by a version 1 writer), or with RepackUncompressed any such pack.
func (s *packState) mustCompress(version uint, o Options) bool {
	return version >= 2 && !s.compress && (s.kinds == hasTree || (o.RepackUncompressed && s.kinds&hasData != 0))
}

// better reports whether a is a better home for a needed blob than b: a
// larger share of its entries is needed (so it is more likely kept as
// it is), then more needed entries, then the smaller ID.
func better(a, b *packState) bool {
	lh, ll := bits.Mul64(uint64(a.neededN), uint64(b.pack.Len()))
	rh, rl := bits.Mul64(uint64(b.neededN), uint64(a.pack.Len()))
	if lh != rh || ll != rl {
		return lh > rh || (lh == rh && ll > rl)
	}
	if a.neededN != b.neededN {
		return a.neededN > b.neededN
	}
	return bytes.Compare(a.pack.ID[:], b.pack.ID[:]) < 0
}

// A pack is small below 1/smallDivisor of the target size (80% with
// RepackSmall); small packs are repacked only if there are at least
// minSmallToRepack of them.
const (
	smallDivisor     = 25
	minSmallToRepack = 10
)

// planner holds the state of one Decide call.
type planner struct {
	in    Input
	o     Options
	plan  *Plan
	packs []*packState               // indexed and stored
	home  map[blob.Handle]*packState // the copy of each needed blob that counts
	small uint64                     // size below which a pack is small
}

// Decide makes a plan. It fails with ErrDataMissing if a needed blob is
// in no intact stored pack.
func Decide(in Input, o Options) (*Plan, error) {
	pl := &planner{in: in, o: o, plan: &Plan{}}
	packSize := o.PackSize
	if packSize == 0 {
		packSize = repository.DefaultPackSize
	}
	pl.small = uint64(packSize / smallDivisor)
	if o.RepackSmall {
		pl.small = uint64(packSize) / 5 * 4
	}
	if o.RepackSmallerThan > 0 {
		pl.small = uint64(o.RepackSmallerThan)
	}
	pl.matchStored()
	if err := pl.chooseHomes(); err != nil {
		return nil, err
	}
	pl.count()
	keep, candidates := pl.classify()
	keep, repack := pl.selectRepacks(keep, candidates)
	pl.finish(keep, repack)
	return pl.plan, nil
}

// matchStored pairs the index with the stored packs: missing,
// unreferenced and damaged packs are set apart.
func (pl *planner) matchStored() {
	plan, st := pl.plan, &pl.plan.Stats
	indexed := make(map[id.ID]struct{}, len(pl.in.Packs))
	for i := range pl.in.Packs {
		ip := &pl.in.Packs[i]
		indexed[ip.ID] = struct{}{}
		size, ok := pl.in.Stored[ip.ID]
		if !ok {
			plan.Missing = append(plan.Missing, ip.ID)
			continue
		}
		pl.packs = append(pl.packs, &packState{pack: ip, stored: size, damaged: ip.Size() != size})
	}
	for pid, size := range pl.in.Stored {
		if _, ok := indexed[pid]; !ok {
			plan.Unreferenced = append(plan.Unreferenced, pid)
			st.UnrefSize += uint64(size)
		}
	}
	slices.SortFunc(plan.Unreferenced, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	st.Packs.Unref = len(plan.Unreferenced)
	st.Packs.Missing = len(plan.Missing)
}

// chooseHomes picks, for every needed blob, the intact pack whose copy
// counts; the others count as duplicates.
func (pl *planner) chooseHomes() error {
	for _, p := range pl.packs {
		if p.damaged {
			continue
		}
		for _, b := range p.pack.List() {
			if _, ok := pl.in.Used[b.Handle]; ok {
				p.neededN++
			}
		}
	}
	pl.home = make(map[blob.Handle]*packState, len(pl.in.Used))
	for _, p := range pl.packs {
		if p.damaged {
			continue
		}
		for _, b := range p.pack.List() {
			if _, ok := pl.in.Used[b.Handle]; !ok {
				continue
			}
			if h, ok := pl.home[b.Handle]; !ok || (h != p && better(p, h)) {
				pl.home[b.Handle] = p
			}
		}
	}
	if len(pl.home) == len(pl.in.Used) {
		return nil
	}
	var missing []string
	for h := range pl.in.Used {
		if _, ok := pl.home[h]; !ok {
			missing = append(missing, h.String())
		}
	}
	slices.Sort(missing)
	if len(missing) > 5 {
		missing = append(missing[:5], "...")
	}
	damaged := 0
	for _, p := range pl.packs {
		if p.damaged {
			damaged++
		}
	}
	return fmt.Errorf("%w: %d blobs are in no intact pack (%s); %d indexed packs are missing and %d have the wrong size; `cairn repair index` rebuilds the index from the packs",
		ErrDataMissing, len(missing), strings.Join(missing, ", "), len(pl.plan.Missing), damaged)
}

// count tallies what each pack holds.
func (pl *planner) count() {
	st := &pl.plan.Stats
	for _, p := range pl.packs {
		claimed := make(map[blob.Handle]struct{})
		for _, b := range p.pack.List() {
			if b.Handle.Type == blob.Tree {
				p.kinds |= hasTree
			} else {
				p.kinds |= hasData
			}
			if b.UncompressedLength != 0 {
				p.compress = true
			}
			n := uint64(b.Length)
			_, needed := pl.in.Used[b.Handle]
			_, again := claimed[b.Handle]
			switch {
			case needed && pl.home[b.Handle] == p && !again:
				claimed[b.Handle] = struct{}{}
				p.usedN++
				p.usedSize += n
				st.Blobs.Used++
				st.Size.Used += n
			case needed:
				p.unusedN++
				p.unusedSize += n
				st.Blobs.Duplicate++
				st.Size.Duplicate += n
			default:
				p.unusedN++
				p.unusedSize += n
				st.Blobs.Unused++
				st.Size.Unused += n
			}
		}
		p.usedSize += uint64(p.pack.HeaderSize())
		switch {
		case p.usedN == 0:
			st.Packs.Unused++
		case p.unusedN == 0:
			st.Packs.Used++
		default:
			st.Packs.PartlyUsed++
		}
	}
}

// classify removes what can go whole and splits the rest into packs kept
// as they are and candidates for repacking.
func (pl *planner) classify() (keep, candidates []*packState) {
	st := &pl.plan.Stats
	var small []*packState
	for _, p := range pl.packs {
		switch {
		case p.damaged || p.usedN == 0:
			if p.damaged {
				st.Packs.Damaged++
			}
			pl.plan.Remove = append(pl.plan.Remove, p.pack.ID)
			st.Blobs.Remove += p.unusedN
			st.Size.Remove += p.unusedSize
		case pl.o.RepackCacheableOnly && p.data():
			keep = append(keep, p)
		case p.unusedN == 0 && p.kinds != hasData|hasTree && !p.mustCompress(pl.in.RepoVersion, pl.o):
			if uint64(p.stored) >= pl.small {
				keep = append(keep, p)
			} else {
				small = append(small, p)
			}
		default:
			candidates = append(candidates, p)
		}
	}
	if len(small) < minSmallToRepack {
		// A few small packs are not worth it, and repacking a single one
		// would repeat on every run.
		return append(keep, small...), candidates
	}
	return keep, append(candidates, small...)
}

// selectRepacks goes through the candidates, most worthwhile first, and
// repacks until the unused space is within the limit (trees, mixed packs
// and packs to compress regardless) or the repack budget is spent.
func (pl *planner) selectRepacks(keep, candidates []*packState) (kept, repack []*packState) {
	// Tree and mixed packs first, then small ones, then by the share of
	// unused bytes, largest first.
	slices.SortFunc(candidates, func(a, b *packState) int {
		if a.data() != b.data() {
			if !a.data() {
				return -1
			}
			return 1
		}
		if as, bs := a.size() < pl.small, b.size() < pl.small; as != bs {
			if as {
				return -1
			}
			return 1
		}
		lh, ll := bits.Mul64(a.unusedSize, b.usedSize)
		rh, rl := bits.Mul64(b.unusedSize, a.usedSize)
		if c := cmp.Or(cmp.Compare(rh, lh), cmp.Compare(rl, ll)); c != 0 {
			return c
		}
		return bytes.Compare(a.pack.ID[:], b.pack.ID[:])
	})

	st := &pl.plan.Stats
	maxUnused := pl.o.MaxUnused.Bytes(st.Size.Used)
	unused := st.Size.Duplicate + st.Size.Unused - st.Size.Remove
	var budget uint64
	for _, p := range candidates {
		switch {
		case pl.o.MaxRepackBytes >= 0 && budget+p.size() >= uint64(pl.o.MaxRepackBytes):
			keep = append(keep, p)
			continue
		case !p.data() || p.mustCompress(pl.in.RepoVersion, pl.o):
			// Trees (cached everywhere) and data to compress are repacked
			// whatever the unused limit says.
		case unused < maxUnused && p.size() >= pl.small:
			keep = append(keep, p)
			continue
		}
		repack = append(repack, p)
		budget += p.size()
		unused -= p.unusedSize
		st.Blobs.Repack += p.usedN + p.unusedN
		st.Size.Repack += p.size() // with the header, as restic counts it
		st.Blobs.RepackRemove += p.unusedN
		st.Size.RepackRemove += p.unusedSize
	}
	return keep, repack
}

// finish lists the blobs to copy out of each repacked pack (needed blobs
// whose home it is and that no kept pack holds) and the packs kept.
func (pl *planner) finish(keep, repack []*packState) {
	toCopy := make(map[blob.Handle]struct{})
	for _, p := range repack {
		for _, b := range p.pack.List() {
			if pl.home[b.Handle] == p {
				toCopy[b.Handle] = struct{}{}
			}
		}
	}
	for _, p := range keep {
		for _, b := range p.pack.List() {
			delete(toCopy, b.Handle)
		}
	}
	plan := pl.plan
	for _, p := range repack {
		rp := RepackPack{Pack: *p.pack}
		for _, b := range p.pack.List() {
			if _, ok := toCopy[b.Handle]; ok && pl.home[b.Handle] == p {
				rp.Copy = append(rp.Copy, b)
				delete(toCopy, b.Handle) // once, even if listed twice
			}
		}
		plan.Repack = append(plan.Repack, rp)
	}
	slices.SortFunc(keep, func(a, b *packState) int { return bytes.Compare(a.pack.ID[:], b.pack.ID[:]) })
	for _, p := range keep {
		plan.Keep = append(plan.Keep, *p.pack)
	}
	plan.Stats.Packs.Keep = len(plan.Keep)
	plan.Stats.Packs.Repack = len(plan.Repack)
	plan.Stats.Packs.Remove = len(plan.Remove)
}
