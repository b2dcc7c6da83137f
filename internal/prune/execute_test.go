package prune_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/restorer"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/testservers"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/ui"
)

const execPassword = "prune-test"

// localRepo opens (or, with create, initialises) the repository at dir on
// the local backend and loads its index.
func localRepo(t *testing.T, dir string, create bool) *repository.Repository {
	t.Helper()
	ctx := t.Context()
	opts := repository.Options{Compression: repository.CompressionOff}
	if create {
		be, err := local.Create(dir)
		if err != nil {
			t.Fatalf("local.Create(%s) = %v", dir, err)
		}
		kp, err := repository.FixedKeyParams(1024, 8, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repository.Init(ctx, be, execPassword, repository.InitOptions{Version: 2, Params: kp}, opts); err != nil {
			t.Fatalf("repository.Init(%s) = %v", dir, err)
		}
	}
	be, err := local.Open(dir)
	if err != nil {
		t.Fatalf("local.Open(%s) = %v", dir, err)
	}
	r, err := repository.Open(ctx, be, execPassword, opts)
	if err != nil {
		t.Fatalf("repository.Open(%s) = %v", dir, err)
	}
	if _, err := r.LoadIndex(ctx); err != nil {
		t.Fatalf("LoadIndex() = %v", err)
	}
	return r
}

func noise(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(rng.Uint32())
	}
	return out
}

// takeSnapshot backs up src as a backup command does (minimum pack size,
// so that packs mix files) and saves a snapshot taken at when.
func takeSnapshot(t *testing.T, dir, src string, when time.Time) id.ID {
	t.Helper()
	ctx := t.Context()
	r := localRepo(t, dir, false)
	if err := r.StartWriting(ctx, repository.WriteOptions{PackSize: repository.MinPackSize}); err != nil {
		t.Fatalf("StartWriting() = %v", err)
	}
	root, sum, err := archiver.New(r, archiver.Options{Polynomial: r.Config().ChunkerPolynomial}).Run(ctx, []string{src}, nil)
	if _, ferr := r.Finish(ctx); err == nil {
		err = ferr
	}
	if err != nil || sum.Errors > 0 {
		t.Fatalf("archiver Run(%s) = %v, %d errors", src, err, sum.Errors)
	}
	sn, err := snapshot.New([]string{src}, nil, "prune-test-host", when)
	if err != nil {
		t.Fatal(err)
	}
	sn.Tree = &root
	doc, err := sn.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sid, err := r.SaveUnpacked(ctx, backend.SnapshotFile, doc)
	if err != nil {
		t.Fatalf("save snapshot: %v", err)
	}
	return sid
}

// contentOf maps the regular files below dir (slash-separated relative
// paths) to their SHA-256.
func contentOf(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// indexJSON is restic's index file format, as far as this test needs it.
type indexJSON struct {
	Packs []struct {
		ID    id.ID `json:"id"`
		Blobs []struct {
			ID   id.ID  `json:"id"`
			Type string `json:"type"`
		} `json:"blobs"`
	} `json:"packs"`
}

// readIndex decodes every index file of the repository and returns the
// blobs of each pack.
func readIndex(t *testing.T, r *repository.Repository) map[id.ID][]blob.Handle {
	t.Helper()
	ctx := t.Context()
	out := map[id.ID][]blob.Handle{}
	var files []id.ID
	err := r.ListFiles(ctx, backend.IndexFile, func(fi backend.FileInfo) error {
		fid, err := id.Parse(fi.Name)
		if err == nil {
			files = append(files, fid)
		}
		return err
	})
	if err != nil {
		t.Fatalf("list index files: %v", err)
	}
	for _, fid := range files {
		doc, err := r.LoadUnpacked(ctx, backend.IndexFile, fid)
		if err != nil {
			t.Fatalf("LoadUnpacked(index %v) = %v", fid.Str(), err)
		}
		var f indexJSON
		if err := json.Unmarshal(doc, &f); err != nil {
			t.Fatalf("decode index %v: %v", fid.Str(), err)
		}
		for _, p := range f.Packs {
			for _, b := range p.Blobs {
				typ := blob.Data
				if b.Type == "tree" {
					typ = blob.Tree
				}
				out[p.ID] = append(out[p.ID], blob.Handle{ID: b.ID, Type: typ})
			}
		}
	}
	return out
}

// storedPacks lists the pack files in the backend.
func storedPacks(t *testing.T, r *repository.Repository) map[id.ID]bool {
	t.Helper()
	out := map[id.ID]bool{}
	err := r.ListFiles(t.Context(), backend.PackFile, func(fi backend.FileInfo) error {
		pid, err := id.Parse(fi.Name)
		if err == nil {
			out[pid] = true
		}
		return err
	})
	if err != nil {
		t.Fatalf("list packs: %v", err)
	}
	return out
}

// reachable walks the trees of the repository's snapshots and returns
// every blob they reference, loading each one (so each must be intact).
func reachable(t *testing.T, r *repository.Repository) map[blob.Handle]bool {
	t.Helper()
	ctx := t.Context()
	snaps, err := snapshot.LoadAll(ctx, r, nil)
	if err != nil {
		t.Fatalf("snapshot.LoadAll() = %v", err)
	}
	seen := map[blob.Handle]bool{}
	var visit func(tid id.ID)
	visit = func(tid id.ID) {
		h := blob.Handle{ID: tid, Type: blob.Tree}
		if seen[h] {
			return
		}
		seen[h] = true
		buf, err := r.LoadBlob(ctx, h)
		if err != nil {
			t.Errorf("LoadBlob(tree %v) = %v, want the tree", tid.Str(), err)
			return
		}
		tr, err := tree.Decode(buf)
		if err != nil {
			t.Errorf("tree.Decode(%v) = %v", tid.Str(), err)
			return
		}
		for _, n := range tr.Nodes {
			for _, c := range n.Content {
				dh := blob.Handle{ID: c, Type: blob.Data}
				if seen[dh] {
					continue
				}
				seen[dh] = true
				if plain, err := r.LoadBlob(ctx, dh); err != nil || id.Hash(plain) != c {
					t.Errorf("LoadBlob(data %v) = %v, want the blob", c.Str(), err)
				}
			}
			if n.Subtree != nil {
				visit(*n.Subtree)
			}
		}
	}
	for _, s := range snaps {
		visit(*s.Tree)
	}
	return seen
}

// resticBin returns $RESTIC_BIN or restic from the PATH, or "" when there
// is none; under CI=true a missing restic fails the test.
func resticBin(t *testing.T) string {
	t.Helper()
	return testservers.ResticOrEmpty(t)
}

// TestExecuteAfterForget builds a local repository with four snapshots of
// a changing tree (sharing most data), forgets some of them and runs
// Prepare and Execute while another goroutine keeps loading blobs of the
// packs the plan keeps. Afterwards the kept snapshots must restore to what
// was backed up, every blob they need must load, the packs the plan
// removed or repacked and every pack without a needed blob must be gone
// from the backend and the index, the index must name exactly the stored
// packs, a second prune must find nothing to do, and restic check
// --read-data must accept the repository.
func TestExecuteAfterForget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forget []int // indexes of the snapshots to forget
		o      prune.Options
		strict bool // no unused blob may remain
	}{
		{"forget oldest two, no unused space", []int{0, 1}, prune.Options{MaxRepackBytes: -1}, true},
		{"forget middle, default limit", []int{1, 2}, prune.Options{MaxUnused: prune.DefaultLimit, MaxRepackBytes: -1}, false},
		{"forget all but last, repack small", []int{0, 1, 2}, prune.Options{MaxRepackBytes: -1, RepackSmall: true, PackSize: repository.MinPackSize}, true},
		{"forget oldest two, one phase", []int{0, 1}, prune.Options{MaxRepackBytes: -1, Exclusive: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testExecute(t, tc.forget, tc.o, tc.strict)
		})
	}
}

func testExecute(t *testing.T, forget []int, o prune.Options, strict bool) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "repo")
	localRepo(t, dir, true)
	src := filepath.Join(t.TempDir(), "src")
	write := func(name string, data []byte) {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(name string) {
		if err := os.Remove(filepath.Join(src, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	// Each step changes the tree a little; most data is shared.
	steps := []func(){
		func() {
			write("a.bin", noise(3<<20, 1))
			write("b.bin", noise(2<<20, 2))
			write("c.txt", []byte("constant\n"))
			write("dir/d.bin", noise(1<<20, 3))
		},
		func() {
			write("b.bin", append(noise(1<<20, 2), noise(1<<20, 20)...))
			write("e.bin", noise(2<<20, 4))
		},
		func() {
			remove("a.bin")
			write("dir/d.bin", noise(1<<20, 30))
			write("dir/f.bin", noise(1<<20, 5))
		},
		func() {
			write("dir/sub/g.txt", []byte("new in the last snapshot\n"))
			remove("e.bin")
		},
	}
	var sids []id.ID
	var contents []map[string][32]byte
	when := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, step := range steps {
		step()
		sids = append(sids, takeSnapshot(t, dir, src, when.Add(time.Duration(i)*time.Hour)))
		contents = append(contents, contentOf(t, src))
	}

	// Forget: remove the snapshot files.
	r := localRepo(t, dir, false)
	gone := map[int]bool{}
	for _, i := range forget {
		gone[i] = true
		if err := r.RemoveSnapshot(ctx, sids[i]); err != nil {
			t.Fatalf("remove snapshot %v: %v", sids[i].Str(), err)
		}
	}
	before := readIndex(t, r)
	used := reachable(t, r)
	unusedPacks := map[id.ID]bool{}
	for pid, blobs := range before {
		unusedPacks[pid] = true
		for _, h := range blobs {
			if used[h] {
				delete(unusedPacks, pid)
				break
			}
		}
	}

	p, err := prune.Prepare(ctx, r, o, nil, t.Logf)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	if len(p.Remove)+len(p.Repack) == 0 {
		t.Fatalf("Prepare() plans to remove and repack nothing (stats %+v); the test needs both", p.Stats)
	}
	dropped := map[id.ID]bool{}
	for _, pid := range p.Remove {
		dropped[pid] = true
	}
	for _, rp := range p.Repack {
		dropped[rp.Pack.ID] = true
	}
	for pid := range unusedPacks {
		if !dropped[pid] && !strict {
			continue // a limit may tolerate some unused space
		}
		if !dropped[pid] {
			t.Errorf("Prepare() keeps pack %v, which holds no needed blob", pid.Str())
		}
	}
	var kept []blob.Handle
	for _, kp := range p.Keep {
		kept = append(kept, before[kp.ID]...)
	}
	if len(kept) == 0 {
		t.Fatalf("Prepare() keeps no pack; the concurrent reader needs one")
	}
	t.Logf("plan: keep %d, repack %d, remove %d packs; %d packs had no used blob", len(p.Keep), len(p.Repack), len(p.Remove), len(unusedPacks))

	// Read blobs of kept packs while the prune runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	var readErrs []string
	var errMu sync.Mutex
	started := make(chan struct{})
	var once sync.Once
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, h := range kept {
				once.Do(func() { close(started) })
				buf, err := r.LoadBlob(context.Background(), h)
				if err == nil && id.Hash(buf) != h.ID {
					err = io.ErrUnexpectedEOF
				}
				if err != nil {
					errMu.Lock()
					readErrs = append(readErrs, h.String()+": "+err.Error())
					errMu.Unlock()
				}
				r.HasBlob(h)
				reads.Add(1)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	<-started // the reader is under way before Execute starts
	var repackProgress *ui.Progress
	o.RepackProgress = func(n int) *ui.Progress {
		if n != len(p.Repack) {
			t.Errorf("RepackProgress(%d), want the %d packs to repack", n, len(p.Repack))
		}
		repackProgress = ui.NewProgress(ui.Discard{}, 0, false)
		repackProgress.AddTotal(uint64(n), 0)
		return repackProgress
	}
	res, err := prune.Execute(ctx, r, p, o, t.Logf)
	if len(p.Repack) > 0 {
		if s := repackProgress.Snapshot(); !s.Final || s.Files != uint64(len(p.Repack)) {
			t.Errorf("repack progress %+v, want finished with %d packs counted", s, len(p.Repack))
		}
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Execute() = %v", err)
	}
	if len(readErrs) > 0 {
		t.Errorf("LoadBlob of kept blobs during Execute failed %d times, first: %s", len(readErrs), readErrs[0])
	}
	if want := len(p.Remove) + len(p.Repack); res.RemovedPacks != want {
		t.Errorf("Execute() RemovedPacks = %d, want %d", res.RemovedPacks, want)
	}
	t.Logf("result %+v; %d concurrent blob reads", res, reads.Load())

	// Look at the result as a new process would.
	r2 := localRepo(t, dir, false)
	after := readIndex(t, r2)
	stored := storedPacks(t, r2)
	for pid := range dropped {
		if stored[pid] {
			t.Errorf("pack %v, which the plan drops, is still stored", pid.Str())
		}
		if _, ok := after[pid]; ok {
			t.Errorf("pack %v, which the plan drops, is still in the index", pid.Str())
		}
	}
	for pid := range after {
		if !stored[pid] {
			t.Errorf("the index names pack %v, which is not stored", pid.Str())
		}
	}
	for pid := range stored {
		if _, ok := after[pid]; !ok {
			t.Errorf("pack %v is stored but in no index", pid.Str())
		}
	}
	usedAfter := reachable(t, r2)
	if len(usedAfter) != len(used) {
		t.Errorf("blobs reachable after prune = %d, want %d (as before)", len(usedAfter), len(used))
	}
	indexed := map[blob.Handle]bool{}
	for _, blobs := range after {
		for _, h := range blobs {
			indexed[h] = true
		}
	}
	for h := range used {
		if !indexed[h] {
			t.Errorf("needed blob %v is in no index after prune", h)
		}
	}
	if strict {
		for h := range indexed {
			if !used[h] {
				t.Errorf("unneeded blob %v is still indexed after prune", h)
			}
		}
	}

	// The kept snapshots restore to what was backed up.
	for i, sid := range sids {
		if gone[i] {
			continue
		}
		sn, err := snapshot.Load(ctx, r2, sid)
		if err != nil {
			t.Fatalf("snapshot.Load(%v) = %v", sid.Str(), err)
		}
		dst := filepath.Join(t.TempDir(), "restore")
		rep := &restoreErrors{}
		sum, err := restorer.New(r2, restorer.Options{Target: dst, Progress: ui.NewProgress(rep, 0, false)}).Run(ctx, *sn.Tree)
		if err != nil || sum.Errors > 0 {
			t.Fatalf("restore snapshot %d = %v, %d errors (%v)", i, err, sum.Errors, rep.list)
		}
		got := contentOf(t, filepath.Join(dst, src))
		if len(got) != len(contents[i]) {
			t.Errorf("restore snapshot %d: %d files, want %d", i, len(got), len(contents[i]))
		}
		for name, want := range contents[i] {
			if g := got[name]; g != want {
				t.Errorf("restore snapshot %d: content(%s) = %x, want %x", i, name, g[:6], want[:6])
			}
		}
	}

	// Nothing left to do.
	p2, err := prune.Prepare(ctx, r2, o, nil, nil)
	if err != nil {
		t.Fatalf("second Prepare() = %v", err)
	}
	if p2.RewritesIndex() || len(p2.Unreferenced) > 0 {
		t.Errorf("second Prepare() = repack %d, remove %d, unreferenced %d packs; want nothing to do", len(p2.Repack), len(p2.Remove), len(p2.Unreferenced))
	}

	t.Run("restic check --read-data", func(t *testing.T) {
		bin := resticBin(t)
		if bin == "" {
			t.Skip("restic is not installed (set RESTIC_BIN)")
		}
		cmd := exec.CommandContext(ctx, bin, "check", "--read-data", "--no-cache")
		cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+dir, "RESTIC_PASSWORD="+execPassword)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("restic check --read-data = %v:\n%s", err, out)
		}
		if !strings.Contains(string(out), "no errors were found") {
			t.Errorf("restic check --read-data output lacks \"no errors were found\":\n%s", out)
		}
	})
}

type restoreErrors struct {
	mu   sync.Mutex
	list []string
}

func (r *restoreErrors) Status(ui.Status) {}
func (r *restoreErrors) Event(ui.Event)   {}

func (r *restoreErrors) Problem(p ui.Problem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, p.Item+": "+p.Err.Error())
	sort.Strings(r.list)
}
