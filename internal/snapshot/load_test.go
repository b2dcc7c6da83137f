package snapshot_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
