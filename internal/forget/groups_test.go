package forget_test

import (
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/forget"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

func TestApplyGroups(t *testing.T) {
	a1 := snap(t, "2024-01-01 10:00:00")
	a2 := snap(t, "2024-01-02 10:00:00")
	b1 := snap(t, "2024-01-03 10:00:00")
	a1.Hostname, a2.Hostname, b1.Hostname = "a", "a", "b"
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	res := forget.ApplyGroups([]*snapshot.Snapshot{a1, b1, a2}, snapshot.Grouping{Host: true}, forget.Policy{Last: 1}, now)
	if len(res) != 2 || res[0].Key.Hostname != "a" || res[1].Key.Hostname != "b" {
		t.Fatalf("groups %+v", res)
	}
	if len(res[0].Keep) != 1 || res[0].Keep[0] != a2 || len(res[0].Remove) != 1 || res[0].Remove[0] != a1 {
		t.Errorf("group a: keep %v remove %v", times(res[0].Keep), times(res[0].Remove))
	}
	if len(res[1].Keep) != 1 || len(res[1].Remove) != 0 {
		t.Errorf("group b: keep %v remove %v", times(res[1].Keep), times(res[1].Remove))
	}
	one := forget.ApplyGroups([]*snapshot.Snapshot{a1, b1, a2}, snapshot.Grouping{}, forget.Policy{Last: 1}, now)
	if len(one) != 1 || len(one[0].Keep) != 1 || one[0].Keep[0] != b1 {
		t.Errorf("no grouping: %+v", one)
	}
}
