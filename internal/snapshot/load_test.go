package snapshot_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

func TestLoadAll(t *testing.T) {
	r := newMemRepo()
	r.delay = time.Millisecond
	var want []string
	for m := range 40 {
		// Store in an order unrelated to time: IDs are hashes.
		fid := r.put(t, "", snap(39-m, "h", []string{"/"}))
		want = append([]string{fid.Str()}, want...)
	}
	got, err := snapshot.LoadAll(t.Context(), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("LoadAll order (-want +got):\n%s", diff)
	}
	if r.maxSeen > 8 {
		t.Errorf("LoadAll ran %d loads at once, want at most 8", r.maxSeen)
	}
	for _, s := range got {
		if _, ok := r.docs[s.ID]; !ok {
			t.Errorf("snapshot %v: ID is not that of a stored file", s.ID.Str())
		}
	}
}

func TestLoadAllErrors(t *testing.T) {
	boom := errors.New("boom")

	r := newMemRepo()
	r.listErr = boom
	if _, err := snapshot.LoadAll(t.Context(), r, nil); !errors.Is(err, boom) {
		t.Errorf("list error: err = %v, want boom", err)
	}

	r = newMemRepo()
	for m := range 20 {
		fid := r.put(t, "", snap(m, "h", nil))
		if m == 7 {
			r.loadErr[fid] = boom
		}
	}
	if _, err := snapshot.LoadAll(t.Context(), r, nil); !errors.Is(err, boom) {
		t.Errorf("load error: err = %v, want boom", err)
	}

	r = newMemRepo()
	fid := r.put(t, "", snap(0, "h", nil))
	r.docs[fid] = []byte(`{"time":"2020-01-01T00:00:00Z"}`)
	if _, err := snapshot.LoadAll(t.Context(), r, nil); !errors.Is(err, snapshot.ErrInvalid) {
		t.Errorf("document without tree: err = %v, want ErrInvalid", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := snapshot.LoadAll(ctx, newMemRepo(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestFind(t *testing.T) {
	r := newMemRepo()
	r.put(t, "aa11", snap(1, "h1", []string{"/a"}, "x"))
	r.put(t, "aa22", snap(2, "h2", []string{"/a"}))
	r.put(t, "bb33", snap(3, "h1", []string{"/b"}, "x"))
	r.put(t, "cc44", snap(0, "h1", []string{"/a"}))
	full := "bb33" + "000000000000000000000000000000000000000000000000000000000000"

	tests := []struct {
		ref     string
		f       snapshot.Filter
		want    string // short ID
		wantErr error
	}{
		{ref: "bb", want: "bb330000"},
		{ref: "aa1", want: "aa110000"},
		{ref: "AA1", want: "aa110000"},
		{ref: full, want: "bb330000"},
		{ref: full, f: snapshot.Filter{Hosts: []string{"h2"}}, want: "bb330000"}, // filter ignored for IDs
		{ref: "aa", wantErr: snapshot.ErrAmbiguous},
		{ref: "dd", wantErr: snapshot.ErrNotFound},
		{ref: "", wantErr: snapshot.ErrNotFound},
		{ref: "xyz", wantErr: snapshot.ErrNotFound},
		{ref: full + "0", wantErr: snapshot.ErrNotFound},
		{ref: "latest", want: "bb330000"},
		{ref: "latest", f: snapshot.Filter{Hosts: []string{"h2"}}, want: "aa220000"},
		{ref: "latest", f: snapshot.Filter{Paths: []string{"/a"}}, want: "aa220000"},
		{ref: "latest", f: snapshot.Filter{Paths: []string{"/a"}, Tags: []snapshot.TagList{{"x"}}}, want: "aa110000"},
		{ref: "latest", f: snapshot.Filter{Hosts: []string{"h3"}}, wantErr: snapshot.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.ref+"/"+tt.want, func(t *testing.T) {
			s, err := snapshot.Find(t.Context(), r, tt.ref, tt.f, nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Find(%q) = %v, %v; want %v", tt.ref, s, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Find(%q): %v", tt.ref, err)
			}
			if s.ID.Str() != tt.want {
				t.Errorf("Find(%q) = %v, want %v", tt.ref, s.ID.Str(), tt.want)
			}
		})
	}

	r.loadErr[*mustID(t, full)] = errNotExist
	if _, err := snapshot.Find(t.Context(), r, "bb", snapshot.Filter{}, nil); !errors.Is(err, errNotExist) {
		t.Errorf("Find with failing load: err = %v, want the repository's error", err)
	}
}

// damagedLog records what a DamagedFunc is told.
type damagedLog struct {
	ids  []string
	errs []error
}

func (l *damagedLog) fn(fid id.ID, err error) {
	l.ids = append(l.ids, fid.Str())
	l.errs = append(l.errs, err)
}

// damagedMemRepo holds snapshots at minutes 1 to 5 (IDs 11…, 22…, …, 55…);
// 22… fails to load as the repository reports damaged bytes, 44… is not
// a snapshot, and 33… vanishes between listing and loading.
func damagedMemRepo(t *testing.T) (*memRepo, error) {
	t.Helper()
	r := newMemRepo()
	for m := 1; m <= 5; m++ {
		r.put(t, strings.Repeat(strconv.Itoa(m), 2), snap(m, "h", []string{"/"}))
	}
	invalid := errors.New("invalid data: content does not match its name")
	r.loadErr[*mustID(t, "22"+strings.Repeat("0", 62))] = invalid
	r.docs[*mustID(t, "44"+strings.Repeat("0", 62))] = []byte(`{"time":"2024-01-01T00:04:00Z"}`)
	r.loadErr[*mustID(t, "33"+strings.Repeat("0", 62))] = fmt.Errorf("gone: %w", backend.ErrNotExist)
	return r, invalid
}

func TestLoadAllDamaged(t *testing.T) {
	r, invalid := damagedMemRepo(t)
	var log damagedLog
	got, err := snapshot.LoadAll(t.Context(), r, log.fn)
	if err != nil {
		t.Fatalf("LoadAll with a DamagedFunc: %v", err)
	}
	if diff := cmp.Diff([]string{"11000000", "55000000"}, ids(got)); diff != "" {
		t.Errorf("LoadAll snapshots (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"22000000", "44000000"}, log.ids); diff != "" {
		t.Fatalf("damaged reported (-want +got):\n%s", diff)
	}
	var de *snapshot.DamagedError
	if !errors.As(log.errs[0], &de) || de.ID.Str() != "22000000" || !errors.Is(log.errs[0], invalid) {
		t.Errorf("error for 22: %v, want a DamagedError wrapping the repository's", log.errs[0])
	}
	if got := log.errs[0].Error(); got != "load snapshot 22000000: "+invalid.Error() {
		t.Errorf("message for 22 = %q", got)
	}
	if !errors.As(log.errs[1], &de) || !errors.Is(log.errs[1], snapshot.ErrInvalid) {
		t.Errorf("error for 44: %v, want a DamagedError wrapping ErrInvalid", log.errs[1])
	}

	// Without a DamagedFunc, one damaged snapshot fails the call.
	if _, err := snapshot.LoadAll(t.Context(), r, nil); !errors.As(err, &de) {
		t.Errorf("LoadAll(nil) = %v, want a DamagedError", err)
	}

	// A cancelled load is not damage.
	ctx, cancel := context.WithCancel(t.Context())
	r.delay = time.Second
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	log = damagedLog{}
	if _, err := snapshot.LoadAll(ctx, r, log.fn); !errors.Is(err, context.Canceled) || len(log.ids) != 0 {
		t.Errorf("cancelled LoadAll = %v, damaged %v; want context.Canceled, none", err, log.ids)
	}
}

func TestFindSelectDamaged(t *testing.T) {
	r, _ := damagedMemRepo(t)
	r.docs[*mustID(t, "66"+strings.Repeat("0", 62))] = []byte("not json") // newest: damaged
	r.loadErr[*mustID(t, "33"+strings.Repeat("0", 62))] = nil
	var de *snapshot.DamagedError

	// "latest" is the newest readable one; the damaged are reported.
	var log damagedLog
	s, err := snapshot.Find(t.Context(), r, "latest", snapshot.Filter{}, log.fn)
	if err != nil || s.ID.Str() != "55000000" {
		t.Fatalf("Find(latest) = %v, %v; want 55000000", s, err)
	}
	if diff := cmp.Diff([]string{"22000000", "44000000", "66000000"}, log.ids); diff != "" {
		t.Errorf("Find(latest) damaged (-want +got):\n%s", diff)
	}
	if _, err := snapshot.Find(t.Context(), r, "latest", snapshot.Filter{}, nil); !errors.As(err, &de) {
		t.Errorf("Find(latest, nil) = %v, want a DamagedError", err)
	}

	// Named by ID, a damaged snapshot is the result: an error.
	log = damagedLog{}
	if _, err := snapshot.Find(t.Context(), r, "22", snapshot.Filter{}, log.fn); !errors.As(err, &de) || de.ID.Str() != "22000000" || len(log.ids) != 0 {
		t.Errorf("Find(22) = %v, reported %v; want a DamagedError for 22, nothing reported", err, log.ids)
	}

	// Select leaves it out and reports it, named or not, once.
	log = damagedLog{}
	got, err := snapshot.Select(t.Context(), r, []string{"11", "22", "latest", "44"}, snapshot.Filter{}, log.fn)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"11000000", "55000000"}, ids(got)); diff != "" {
		t.Errorf("Select (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"22000000", "44000000", "66000000"}, log.ids); diff != "" {
		t.Errorf("Select damaged (-want +got):\n%s", diff)
	}
	if _, err := snapshot.Select(t.Context(), r, []string{"11", "22"}, snapshot.Filter{}, nil); !errors.As(err, &de) {
		t.Errorf("Select(nil) = %v, want a DamagedError", err)
	}
	log = damagedLog{}
	got, err = snapshot.Select(t.Context(), r, nil, snapshot.Filter{}, log.fn)
	if err != nil || len(got) != 3 || len(log.ids) != 3 {
		t.Errorf("Select(all) = %v, %v, reported %v; want 3 and 3", ids(got), err, log.ids)
	}
}
