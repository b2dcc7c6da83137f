package lock_test

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/lock"
)

// FuzzDecodeLock: lock.Decode never panics on the bytes of a lock file;
// a lock it accepts encodes again and decodes to the same lock, its
// description and age can be computed, and it is only ever judged dead
// for a PID a process can have.
func FuzzDecodeLock(f *testing.F) {
	host, _ := os.Hostname()
	restic := `{"time":"2026-12-04T21:30:05.123456789+01:00","exclusive":false,"hostname":"nas","username":"backup","pid":4242,"uid":1000,"gid":1000}`
	f.Add([]byte(restic))
	f.Add([]byte(restic[:len(restic)/2]))
	f.Add([]byte(`{"time":"0001-01-01T00:00:00Z","exclusive":true,"hostname":"","username":"","pid":0}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"pid":-1,"uid":4294967295,"gid":4294967296}`))
	f.Add([]byte(`{"time":"9999-12-31T23:59:59.999999999-23:59","cairn_queued":"0000-01-01T00:00:00+23:59","cairn_prune":true}`))
	for _, pid := range []int64{1, math.MaxInt32, math.MaxInt32 + 1, 1 << 32, 1<<32 + 1, 1<<32 - 1, math.MaxInt64} {
		doc, _ := json.Marshal(map[string]any{"time": time.Now(), "hostname": host, "pid": pid})
		f.Add(doc)
	}
	for _, l := range []lock.Lock{
		{Time: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), Exclusive: true, Hostname: "h", Username: "u", PID: 7, UID: 1, GID: 2},
		{Time: time.Now(), Hostname: host, PID: os.Getpid(), Queued: time.Now().Add(-time.Minute), Prune: true},
	} {
		doc, err := json.Marshal(l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		l, err := lock.Decode(doc)
		if err != nil {
			if l != (lock.Lock{}) {
				t.Errorf("Decode failed (%v) but returned %+v", err, l)
			}
			return
		}
		again, err := json.Marshal(l)
		if err != nil {
			t.Fatalf("a decoded lock %+v does not encode: %v", l, err)
		}
		l2, err := lock.Decode(again)
		if err != nil {
			t.Fatalf("Decode(%s) of a re-encoded lock: %v", again, err)
		}
		if !sameLock(l, l2) {
			t.Errorf("lock %+v encodes as %s, which decodes to %+v", l, again, l2)
		}
		now := time.Now()
		if a := l.Age(now); a < 0 {
			t.Errorf("Age = %v, want >= 0", a)
		}
		if !strings.Contains(l.String(), "lock of PID") {
			t.Errorf("String() = %q", l.String())
		}
		if l.Dead() && (l.PID <= 0 || l.PID > math.MaxInt32) {
			t.Errorf("lock of PID %d judged dead: no process can have that PID", l.PID)
		}
	})
}

// sameLock reports whether a and b describe the same lock: times equal
// as instants, everything else identical.
func sameLock(a, b lock.Lock) bool {
	if !a.Time.Equal(b.Time) || !a.Queued.Equal(b.Queued) {
		return false
	}
	a.Time, b.Time, a.Queued, b.Queued = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}
