package prune_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/prune"
)

func TestDecodeRecordRejects(t *testing.T) {
	for _, doc := range []string{``, `{}`, `{"version":2,"created":"2026-01-01T00:00:00Z"}`, `{"version":1}`,
		`{"version":1,"created":"2026-01-01T00:00:00Z","packs":[{"id":"` + strings.Repeat("ab", 32) + `","blobs":[{"id":"` + strings.Repeat("cd", 32) + `","type":"x","offset":0,"length":40}]}]}`} {
		if _, err := prune.DecodeRecord([]byte(doc)); err == nil {
			t.Errorf("DecodeRecord(%q) = nil error, want one", doc)
		}
	}
	r := &prune.Record{Created: time.Now().UTC().Truncate(time.Second), Packs: []prune.CondemnedPack{{ID: id.Hash([]byte("p"))}}}
	doc, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := prune.DecodeRecord(doc)
	if err != nil || !back.Created.Equal(r.Created) || len(back.Packs) != 1 {
		t.Fatalf("DecodeRecord(Encode()) = %+v, %v", back, err)
	}
}

func TestDecideFinish(t *testing.T) {
	swap := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	b1 := blob.Blob{Handle: blob.Handle{ID: id.Hash([]byte("b1")), Type: blob.Data}, Length: 40}
	b2 := blob.Blob{Handle: blob.Handle{ID: id.Hash([]byte("b2")), Type: blob.Data}, Length: 40}
	p1, p2, p3, u := id.Hash([]byte("p1")), id.Hash([]byte("p2")), id.Hash([]byte("p3")), id.Hash([]byte("u"))
	rec := &prune.Record{Created: swap, Swapped: swap, Holders: []lock.Holder{{Hostname: "h", PID: 1}},
		Packs:     []prune.CondemnedPack{{ID: p1, Blobs: []blob.Blob{b1}}, {ID: p2, Blobs: []blob.Blob{b2}}, {ID: p3}},
		Unindexed: []id.ID{u}}
	all := func(id.ID) bool { return true }
	none := func(id.ID) bool { return false }
	base := prune.FinishInput{Record: rec, Now: swap.Add(time.Hour), Grace: time.Minute, Indexed: none, Stored: all}

	in := base
	in.StillHeld = 1
	if plan := prune.DecideFinish(in); !strings.Contains(plan.Wait, "1 processes") || len(plan.Delete) > 0 {
		t.Errorf("with a holder: %+v, want a wait", plan)
	}
	in.Force = true
	if plan := prune.DecideFinish(in); plan.Wait != "" || len(plan.Delete) != 4 {
		t.Errorf("forced: %+v, want all four deleted", plan)
	}
	in = base
	in.Now = swap.Add(time.Second)
	if plan := prune.DecideFinish(in); !strings.Contains(plan.Wait, "grace") {
		t.Errorf("in the grace period: %+v, want a wait", plan)
	}
	in = base
	in.Record = &prune.Record{Created: swap}
	if plan := prune.DecideFinish(in); plan.Wait == "" {
		t.Errorf("unconfirmed swap: %+v, want a wait", plan)
	}
	in = base
	in.Needed = map[blob.Handle]struct{}{b1.Handle: {}, {ID: id.Hash([]byte("gone")), Type: blob.Tree}: {}}
	in.Indexed = func(pid id.ID) bool { return pid == p3 }
	in.Stored = func(pid id.ID) bool { return pid != p2 }
	plan := prune.DecideFinish(in)
	if plan.Wait != "" || len(plan.Reindex) != 1 || plan.Reindex[0].ID != p1 || len(plan.Delete) != 1 || plan.Delete[0] != u || len(plan.Lost) != 1 {
		t.Errorf("DecideFinish() = %+v, want p1 indexed again, u deleted (p2 gone, p3 indexed), one blob lost", plan)
	}
}
