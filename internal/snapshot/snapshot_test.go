package snapshot_test

import (
	"errors"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

func mustID(t *testing.T, s string) *id.ID {
	t.Helper()
	v, err := id.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

const (
	hexParent   = "1111111111111111111111111111111111111111111111111111111111111111"
	hexTree     = "a26acd9db94fbd47bb91b791290cced192a590ac7a62870a4e88dc1b295c7481"
	hexOriginal = "3333333333333333333333333333333333333333333333333333333333333333"
)

func TestEncodeFieldOrder(t *testing.T) {
	zone := time.FixedZone("", 2*3600)
	s := &snapshot.Snapshot{
		Time:           time.Date(2022, 8, 25, 10, 11, 12, 123456789, zone),
		Parent:         mustID(t, hexParent),
		Tree:           mustID(t, hexTree),
		Paths:          []string{"/home/user/work", "/etc"},
		Hostname:       "kasimir",
		Username:       "user",
		UID:            1000,
		GID:            100,
		Excludes:       []string{"*.tmp"},
		Tags:           []string{"b", "a"},
		Original:       mustID(t, hexOriginal),
		ProgramVersion: "cairn 0.1.0",
		Summary: &snapshot.Summary{
			BackupStart:         time.Date(2022, 8, 25, 10, 11, 0, 0, zone),
			BackupEnd:           time.Date(2022, 8, 25, 10, 11, 12, 5, zone),
			FilesNew:            1,
			FilesChanged:        2,
			FilesUnmodified:     3,
			DirsNew:             4,
			DirsChanged:         5,
			DirsUnmodified:      6,
			DataBlobs:           7,
			TreeBlobs:           8,
			DataAdded:           9,
			DataAddedPacked:     10,
			TotalFilesProcessed: 11,
			TotalBytesProcessed: 12,
		},
		ID: *mustID(t, hexOriginal), // not encoded
	}
	want := `{"time":"2022-08-25T10:11:12.123456789+02:00","parent":"` + hexParent + `","tree":"` + hexTree + `",` +
		`"paths":["/home/user/work","/etc"],"hostname":"kasimir","username":"user","uid":1000,"gid":100,` +
		`"excludes":["*.tmp"],"tags":["b","a"],"original":"` + hexOriginal + `","program_version":"cairn 0.1.0",` +
		`"summary":{"backup_start":"2022-08-25T10:11:00+02:00","backup_end":"2022-08-25T10:11:12.000000005+02:00",` +
		`"files_new":1,"files_changed":2,"files_unmodified":3,"dirs_new":4,"dirs_changed":5,"dirs_unmodified":6,` +
		`"data_blobs":7,"tree_blobs":8,"data_added":9,"data_added_packed":10,"total_files_processed":11,"total_bytes_processed":12}}`
	got, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("Encode() =\n%s\nwant\n%s", got, want)
	}

	back, err := snapshot.Decode(got, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Errorf("Decode(Encode(s)) differs (-s +decoded):\n%s", diff)
	}
}

func TestEncodeMinimal(t *testing.T) {
	s := &snapshot.Snapshot{Time: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), Tree: mustID(t, hexTree), Tags: []string{}, Summary: nil}
	got, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2020-01-02T03:04:05Z","tree":"` + hexTree + `","paths":null}`
	if string(got) != want {
		t.Errorf("Encode() = %s, want %s", got, want)
	}
	if _, err := (&snapshot.Snapshot{}).Encode(); !errors.Is(err, snapshot.ErrInvalid) {
		t.Errorf("Encode() without tree: err = %v, want ErrInvalid", err)
	}
}

// resticDoc is a snapshot file as restic 0.14 stores it (compact JSON, as
// produced by `restic backup --tag t2,t1 --tag zz b ./a/` as root on host
// vm, with uid/gid, excludes and parent filled in by hand, and a key from
// a hypothetical future version added).
const resticDoc = `{"time":"2026-11-25T14:53:57.833906323+01:00","parent":"` + hexParent + `","tree":"` + hexTree + `",` +
	`"paths":["/tmp/rtest/src/b","/tmp/rtest/src/a"],"hostname":"vm","username":"joe","uid":1000,"gid":1000,` +
	`"excludes":["/tmp/rtest/src/a/cache"],"tags":["t2","t1","zz"],"future_field":{"x":[1,2]}}`

func TestDecodeRestic(t *testing.T) {
	fid := id.Hash([]byte(resticDoc))
	s, err := snapshot.Decode([]byte(resticDoc), fid)
	if err != nil {
		t.Fatal(err)
	}
	want := &snapshot.Snapshot{
		Time:     time.Date(2026, 11, 25, 14, 53, 57, 833906323, time.FixedZone("", 3600)),
		Parent:   mustID(t, hexParent),
		Tree:     mustID(t, hexTree),
		Paths:    []string{"/tmp/rtest/src/b", "/tmp/rtest/src/a"},
		Hostname: "vm",
		Username: "joe",
		UID:      1000,
		GID:      1000,
		Excludes: []string{"/tmp/rtest/src/a/cache"},
		Tags:     []string{"t2", "t1", "zz"},
		ID:       fid,
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	// Without the unknown key, encoding reproduces the document exactly.
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if known := resticDoc[:len(resticDoc)-len(`,"future_field":{"x":[1,2]}}`)] + "}"; string(enc) != known {
		t.Errorf("Encode() =\n%s\nwant\n%s", enc, known)
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := map[string]string{
		"not json":     `{"time":`,
		"no tree":      `{"time":"2020-01-02T03:04:05Z","paths":["/"]}`,
		"null tree":    `{"time":"2020-01-02T03:04:05Z","tree":null,"paths":["/"]}`,
		"bad tree id":  `{"time":"2020-01-02T03:04:05Z","tree":"abc","paths":["/"]}`,
		"bad time":     `{"time":"yesterday","tree":"` + hexTree + `"}`,
		"array":        `[]`,
		"trailing doc": `{"tree":"` + hexTree + `"} {}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := snapshot.Decode([]byte(doc), id.ID{})
			if !errors.Is(err, snapshot.ErrInvalid) {
				t.Errorf("Decode(%s) = %v, %v; want ErrInvalid", doc, s, err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	sep := string(filepath.Separator)
	s, err := snapshot.New([]string{"b/../a/", wd + sep + sep + "x", "."}, []string{"t"}, "host", at)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(wd, "a"), filepath.Join(wd, "x"), wd}; !cmp.Equal(s.Paths, want) {
		t.Errorf("Paths = %q, want %q", s.Paths, want)
	}
	if s.Hostname != "host" || !s.Time.Equal(at) || !cmp.Equal(s.Tags, []string{"t"}) || s.Tree != nil {
		t.Errorf("New = %+v", s)
	}
	u, err := user.Current()
	if err != nil {
		t.Skipf("no current user: %v", err)
	}
	if s.Username != u.Username || strconv.Itoa(int(s.UID)) != u.Uid || strconv.Itoa(int(s.GID)) != u.Gid {
		t.Errorf("user = %q %d:%d, want %q %s:%s", s.Username, s.UID, s.GID, u.Username, u.Uid, u.Gid)
	}
}
