package prune_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// TestTwoPhaseHolderReindex plays the case two phases exist for: a backup
// that loaded the index before the prune's swap dedups against a blob the
// prune condemns, and saves its snapshot after the swap. Its process (a
// real one, whose lock is in the repository) holds up phase 2; once it is
// gone, phase 2 indexes the pack it needs again and deletes the rest, and
// every snapshot's blobs are indexed and stored.
func TestTwoPhaseHolderReindex(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "repo")
	localRepo(t, dir, true)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", noise(600<<10, 1))
	write("b", noise(600<<10, 2))
	s1 := takeSnapshot(t, dir, src, time.Now().Add(-time.Hour))
	if err := os.Remove(filepath.Join(src, "b")); err != nil {
		t.Fatal(err)
	}
	takeSnapshot(t, dir, src, time.Now().Add(-time.Minute))

	// The backup's repository loads the index now, with b's blobs in it.
	late := localRepo(t, dir, false)

	// Its process: a real, living process of this host with a lock.
	holder := exec.Command("sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	host, _ := os.Hostname()
	lockDoc, _ := json.Marshal(map[string]any{"time": time.Now(), "exclusive": false, "hostname": host, "username": "test", "pid": holder.Process.Pid})
	r := localRepo(t, dir, false)
	lockID, err := r.SaveUnpacked(ctx, backend.LockFile, lockDoc)
	if err != nil {
		t.Fatal(err)
	}

	// forget s1, prune: b's pack is condemned, not deleted.
	if err := r.RemoveFiles(ctx, backend.SnapshotFile, []id.ID{s1}); err != nil {
		t.Fatal(err)
	}
	o := prune.Options{MaxRepackBytes: -1, Grace: 0}
	p, err := prune.Prepare(ctx, r, o, nil, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	before := storedPacks(t, r)
	res, err := prune.Execute(ctx, r, p, o, t.Logf)
	if err != nil {
		t.Fatalf("Execute() = %v", err)
	}
	if res.Condemned == 0 || res.RemovedPacks != 0 || res.Record.IsNull() {
		t.Fatalf("Execute() = %+v, want condemned packs, none removed, a record", res)
	}
	after := storedPacks(t, r)
	for pid := range before {
		if !after[pid] {
			t.Fatalf("pack %v was deleted by phase 1 while a holder runs", pid.Str())
		}
	}

	// The backup goes on with the old index: b comes back and dedups.
	write("b", noise(600<<10, 2))
	if err := late.StartWriting(ctx, repository.WriteOptions{PackSize: repository.MinPackSize}); err != nil {
		t.Fatal(err)
	}
	root, sum, err := archiver.New(late, archiver.Options{Polynomial: late.Config().ChunkerPolynomial}).Run(ctx, []string{src}, nil)
	if _, ferr := late.Finish(ctx); err == nil {
		err = ferr
	}
	if err != nil || sum.Errors > 0 {
		t.Fatalf("late backup: %v, %d errors", err, sum.Errors)
	}
	sn, err := snapshot.New([]string{src}, nil, "prune-test-host", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sn.Tree = &root
	doc, _ := sn.Encode()
	if _, err := late.SaveUnpacked(ctx, backend.SnapshotFile, doc); err != nil {
		t.Fatal(err)
	}

	finish := func() prune.FinishResult {
		t.Helper()
		r := localRepo(t, dir, false)
		idx, err := r.LoadPruneIndex(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := prune.Finish(ctx, r, idx, prune.FinishOptions{}, t.Logf)
		if err != nil {
			t.Fatalf("Finish() = %v", err)
		}
		return fr
	}
	if fr := finish(); fr.Waiting != 1 || fr.Deleted != 0 {
		t.Fatalf("Finish() with the holder alive = %+v, want one waiting record, nothing deleted", fr)
	}
	_ = holder.Process.Kill()
	_ = holder.Wait()
	fr := finish()
	if fr.Finished != 1 || fr.Reindexed == 0 || fr.Deleted == 0 {
		t.Fatalf("Finish() after the holder = %+v, want the record finished, b's pack indexed again, others deleted", fr)
	}

	r = localRepo(t, dir, false)
	idx := readIndex(t, r)
	stored := storedPacks(t, r)
	for pid := range idx {
		if !stored[pid] {
			t.Errorf("pack %v is indexed but gone", pid.Str())
		}
	}
	for h := range reachable(t, r) {
		if !r.HasBlob(h) {
			t.Errorf("blob %v of a snapshot is not indexed", h)
		}
	}
	pidx, err := r.LoadPruneIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pidx.Pending) != 0 {
		t.Errorf("%d pending records left", len(pidx.Pending))
	}
	// The dead holder's stale lock would stop restic check.
	if err := r.RemoveFiles(ctx, backend.LockFile, []id.ID{lockID}); err != nil {
		t.Fatal(err)
	}
	if bin := resticBin(t); bin != "" {
		cmd := exec.Command(bin, "-r", dir, "--no-cache", "check", "--read-data")
		cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+execPassword)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("restic check --read-data: %v\n%s", err, out)
		}
	}
}
