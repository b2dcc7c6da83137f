package prune_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
)

// The model: a repository in memory, backups and prunes as step machines
// run in a random interleaving. The prune's decisions are the real Decide
// and DecideFinish; the steps around them follow Execute and Finish. After
// every step, every blob of every snapshot must be in a stored pack.

type mFile struct {
	packs []id.ID       // packs named (with their blobs from mRepo.packs)
	rec   *prune.Record // a pending record (no packs)
}

type mRepo struct {
	packs   map[id.ID][]blob.Blob // stored packs
	files   map[id.ID]*mFile      // index files
	snaps   map[id.ID][]blob.Handle
	holders map[int]bool // processes with a live lock
	next    uint64
	trace   []string
	// broken rules, to prove the check can fail
	ignoreHolders, skipNeeded bool
}

func (r *mRepo) newID() id.ID {
	r.next++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], r.next)
	return id.Hash(b[:])
}

func mBlob(n int) blob.Handle {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return blob.Handle{ID: id.Hash(append([]byte("blob"), b[:]...)), Type: blob.Data}
}

// indexed returns the packs the index files name now.
func (r *mRepo) indexed() map[id.ID]bool {
	out := map[id.ID]bool{}
	for _, f := range r.files {
		for _, p := range f.packs {
			out[p] = true
		}
	}
	return out
}

// view is what loading the index gives: blob -> true.
func (r *mRepo) view() map[blob.Handle]bool {
	out := map[blob.Handle]bool{}
	for p := range r.indexed() {
		for _, b := range r.packs[p] {
			out[b.Handle] = true
		}
	}
	return out
}

func (r *mRepo) savePack(hs []blob.Handle) id.ID {
	pid := r.newID()
	var bl []blob.Blob
	for i, h := range hs {
		bl = append(bl, blob.Blob{Handle: h, Offset: uint32(i * 100), Length: 100})
	}
	r.packs[pid] = bl
	return pid
}

func (r *mRepo) violation() string {
	have := map[blob.Handle]bool{}
	for _, bl := range r.packs {
		for _, b := range bl {
			have[b.Handle] = true
		}
	}
	for sid, hs := range r.snaps {
		for _, h := range hs {
			if !have[h] {
				return fmt.Sprintf("snapshot %v uses blob %v, which no stored pack holds", sid.Str(), h.ID.Str())
			}
		}
	}
	return ""
}

// proc is a process: a list of steps, each run by the scheduler.
type proc struct {
	name  string
	steps []func() error
	pid   int
}

func newBackup(r *mRepo, rng *rand.Rand, pid, universe int) *proc {
	var view map[blob.Handle]bool
	var content []blob.Handle
	for range 1 + rng.IntN(4) {
		content = append(content, mBlob(rng.IntN(universe)))
	}
	var pack id.ID
	p := &proc{name: fmt.Sprintf("backup%d", pid), pid: pid}
	p.steps = []func() error{
		func() error { r.holders[pid] = true; return nil },
		func() error { view = r.view(); return nil },
		func() error {
			var fresh []blob.Handle
			for _, h := range content {
				if !view[h] && !slices.Contains(fresh, h) {
					fresh = append(fresh, h)
				}
			}
			if len(fresh) > 0 {
				pack = r.savePack(fresh)
			}
			return nil
		},
		func() error {
			if !pack.IsNull() {
				r.files[r.newID()] = &mFile{packs: []id.ID{pack}}
			}
			return nil
		},
		func() error { r.snaps[r.newID()] = content; return nil },
		func() error { delete(r.holders, pid); return nil },
	}
	return p
}

func newForget(r *mRepo, rng *rand.Rand) *proc {
	return &proc{name: "forget", steps: []func() error{func() error {
		ids := make([]id.ID, 0, len(r.snaps))
		for sid := range r.snaps {
			ids = append(ids, sid)
		}
		slices.SortFunc(ids, func(a, b id.ID) int { return strings.Compare(a.String(), b.String()) })
		for _, sid := range ids {
			if len(r.snaps) > 2 && rng.IntN(2) == 0 {
				delete(r.snaps, sid)
			}
		}
		return nil
	}}}
}

// finishSteps are phase 2 of every record present when they run, as
// Finish does it (claimed packs, fresh index after the holders).
func finishRecords(r *mRepo, pid int) error {
	recs := map[id.ID]*prune.Record{}
	claimed := map[id.ID]time.Time{}
	for fid, f := range r.files {
		if f.rec != nil {
			recs[fid] = f.rec
			for _, p := range f.rec.PackIDs() {
				if t, ok := claimed[p]; !ok || f.rec.Created.After(t) {
					claimed[p] = f.rec.Created
				}
			}
		}
	}
	for fid, rec := range recs {
		if rec.Swapped.IsZero() {
			for _, of := range rec.OldIndex {
				delete(r.files, of)
			}
			rec.Swapped, rec.Holders = time.Now(), holdersOf(r, pid)
		}
		held := 0
		for _, h := range rec.Holders {
			if r.holders[h.PID] && !r.ignoreHolders {
				held++
			}
		}
		idx := r.indexed()
		view := r.view()
		needed := map[blob.Handle]struct{}{}
		if !r.skipNeeded {
			for sid, hs := range r.snaps {
				if slices.Contains(rec.Snapshots, sid) {
					continue
				}
				for _, h := range hs {
					if !view[h] {
						needed[h] = struct{}{}
					}
				}
			}
		}
		created := rec.Created
		plan := prune.DecideFinish(prune.FinishInput{Record: rec, Now: time.Now(), StillHeld: held,
			Indexed: func(p id.ID) bool { return idx[p] || claimed[p].After(created) },
			Stored:  func(p id.ID) bool { _, ok := r.packs[p]; return ok },
			Needed:  needed})
		if plan.Wait != "" {
			continue
		}
		for _, cp := range plan.Reindex {
			r.files[r.newID()] = &mFile{packs: []id.ID{cp.ID}}
		}
		for _, p := range plan.Delete {
			delete(r.packs, p)
			modelDeleted++
		}
		delete(r.files, fid)
	}
	return nil
}

func holdersOf(r *mRepo, self int) []lock.Holder {
	var out []lock.Holder
	for pid := range r.holders {
		if pid != self {
			out = append(out, lock.Holder{Hostname: "model", PID: pid})
		}
	}
	return out
}

func newPrune(r *mRepo, pid int) *proc {
	var (
		plan     *prune.Plan
		snaps    []id.ID
		oldFiles []id.ID
		newPacks []repository.IndexedPack
		rec      *prune.Record
		recID    id.ID
	)
	p := &proc{name: fmt.Sprintf("prune%d", pid), pid: pid}
	p.steps = []func() error{
		func() error { r.holders[pid] = true; return nil },
		func() error { return finishRecords(r, pid) },
		func() error { // Prepare: snapshots, then the index
			used := map[blob.Handle]struct{}{}
			snaps = nil
			for sid, hs := range r.snaps {
				snaps = append(snaps, sid)
				for _, h := range hs {
					used[h] = struct{}{}
				}
			}
			idx := r.indexed()
			view := r.view()
			pending := map[id.ID]bool{}
			held := map[blob.Handle]bool{}
			oldFiles = nil
			for fid, f := range r.files {
				if f.rec != nil {
					for _, pk := range f.rec.PackIDs() {
						if !idx[pk] {
							pending[pk] = true
						}
					}
					for _, cp := range f.rec.Packs {
						for _, b := range cp.Blobs {
							held[b.Handle] = true
						}
					}
					continue
				}
				oldFiles = append(oldFiles, fid)
			}
			for h := range used {
				if held[h] && !view[h] {
					delete(used, h)
				}
			}
			var packs []repository.IndexedPack
			for pk := range idx {
				packs = append(packs, repository.IndexedPack{ID: pk, Blobs: r.packs[pk]})
			}
			slices.SortFunc(packs, func(a, b repository.IndexedPack) int { return strings.Compare(a.ID.String(), b.ID.String()) })
			stored := map[id.ID]int64{}
			for pk, bl := range r.packs {
				if !pending[pk] {
					stored[pk] = repository.PackSize(bl)
				}
			}
			var err error
			plan, err = prune.Decide(prune.Input{Packs: packs, Stored: stored, Used: used, RepoVersion: 2}, prune.Options{MaxRepackBytes: -1})
			return err
		},
		func() error { // repack
			newPacks = nil
			var copyHs []blob.Handle
			for _, rp := range plan.Repack {
				for _, b := range rp.Copy {
					copyHs = append(copyHs, b.Handle)
				}
			}
			if len(copyHs) > 0 {
				np := r.savePack(copyHs)
				newPacks = append(newPacks, repository.IndexedPack{ID: np, Blobs: r.packs[np]})
				f := r.newID()
				r.files[f] = &mFile{packs: []id.ID{np}}
				oldFiles = append(oldFiles, f)
			}
			return nil
		},
		func() error { // new index
			var ids []id.ID
			for _, k := range plan.Keep {
				ids = append(ids, k.ID)
			}
			for _, np := range newPacks {
				ids = append(ids, np.ID)
			}
			r.files[r.newID()] = &mFile{packs: ids}
			return nil
		},
		func() error { // R1
			rec = &prune.Record{Created: time.Now(), OldIndex: oldFiles, Snapshots: snaps, Unindexed: plan.Unreferenced}
			for _, pk := range plan.Remove {
				rec.Packs = append(rec.Packs, prune.CondemnedPack{ID: pk, Blobs: r.packs[pk]})
			}
			for _, rp := range plan.Repack {
				rec.Packs = append(rec.Packs, prune.CondemnedPack{ID: rp.Pack.ID, Blobs: rp.Pack.Blobs})
			}
			recID = r.newID()
			r.files[recID] = &mFile{rec: rec}
			return nil
		},
		func() error { // the swap
			for _, f := range oldFiles {
				delete(r.files, f)
			}
			return nil
		},
		func() error { // R2
			delete(r.files, recID)
			r2 := *rec
			r2.Swapped, r2.Holders = time.Now(), holdersOf(r, pid)
			r.files[r.newID()] = &mFile{rec: &r2}
			return nil
		},
		func() error { return finishRecords(r, pid) },
		func() error { delete(r.holders, pid); return nil },
	}
	return p
}

// modelDeleted counts the packs phase 2 deleted in the model runs.
var modelDeleted int

// runModel runs one seeded interleaving and returns the first violation
// with its trace, or "".
func runModel(seed uint64, ignoreHolders, skipNeeded bool) string {
	rng := rand.New(rand.NewPCG(seed, 0x2bad))
	r := &mRepo{packs: map[id.ID][]blob.Blob{}, files: map[id.ID]*mFile{}, snaps: map[id.ID][]blob.Handle{}, holders: map[int]bool{},
		ignoreHolders: ignoreHolders, skipNeeded: skipNeeded}
	universe := 6 + rng.IntN(10)
	var live []*proc
	pids, pruneRunning := 0, false
	for step := 0; step < 300; step++ {
		if len(live) < 4 && rng.IntN(3) == 0 {
			pids++
			switch k := rng.IntN(6); {
			case k == 0 && !pruneRunning:
				live = append(live, newPrune(r, pids))
				pruneRunning = true
			case k == 1:
				live = append(live, newForget(r, rng))
			default:
				live = append(live, newBackup(r, rng, pids, universe))
			}
		}
		if len(live) == 0 {
			continue
		}
		i := rng.IntN(len(live))
		p := live[i]
		done := false
		if rng.IntN(40) == 0 { // killed: its lock goes stale, its work stays as it is
			delete(r.holders, p.pid)
			r.trace = append(r.trace, p.name+" killed")
			done = true
		} else {
			r.trace = append(r.trace, fmt.Sprintf("%s step %d", p.name, 0))
			if err := p.steps[0](); err != nil {
				return fmt.Sprintf("seed %d: %s: %v\n%s", seed, p.name, err, strings.Join(r.trace, "\n"))
			}
			p.steps = p.steps[1:]
			done = len(p.steps) == 0
		}
		if done {
			if strings.HasPrefix(p.name, "prune") {
				pruneRunning = false
			}
			live = slices.Delete(live, i, i+1)
		}
		if v := r.violation(); v != "" {
			return fmt.Sprintf("seed %d: %s\n%s", seed, v, strings.Join(r.trace, "\n"))
		}
	}
	return ""
}

// TestTwoPhaseModel runs random interleavings of backups, forgets and
// two-phase prunes (with kills) against the real Decide and DecideFinish:
// no snapshot ever uses a blob that no stored pack holds. With a rule
// broken (holders ignored, or snapshots since the plan not walked), the
// same check must find a violation.
func TestTwoPhaseModel(t *testing.T) {
	const seeds = 1500
	for seed := range uint64(seeds) {
		if v := runModel(seed, false, false); v != "" {
			t.Fatalf("%s", v)
		}
	}
	t.Logf("%d interleavings, %d packs deleted by phase 2", seeds, modelDeleted)
	if modelDeleted == 0 {
		t.Fatal("no interleaving deleted a pack: the model does not prune")
	}
	for _, broken := range []struct {
		name                      string
		ignoreHolders, skipNeeded bool
	}{{"holders ignored", true, false}, {"new snapshots not walked", false, true}} {
		found := false
		for seed := uint64(0); seed < seeds && !found; seed++ {
			found = runModel(seed, broken.ignoreHolders, broken.skipNeeded) != ""
		}
		if !found {
			t.Errorf("with %s, no interleaving of %d lost a blob: the model cannot tell", broken.name, seeds)
		}
	}
}
