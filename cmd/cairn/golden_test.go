package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Side-by-side JSON tests. Each goldenCase runs one command with --json on
// a fixture repository. `make golden` records restic 0.19.1's output lines
// under testdata/golden (go test -run '^TestGolden' -update-golden with
// $RESTIC_BIN); a normal run gives cairn the same fixture and arguments and
// compares the shape of its lines with the recorded ones: the same
// message types, the same keys at every depth, the same JSON value types.
// The recorded files are committed, so the test needs no restic binary.

var updateGolden = flag.Bool("update-golden", false, "record testdata/golden from $RESTIC_BIN instead of testing cairn")

// goldenCase is one command whose --json output must have restic's shape.
type goldenCase struct {
	// name is the file name under testdata/golden, without extension.
	name string
	// args builds the command line after the repository flags; "--json"
	// is appended. It may use the fixture's snapshot IDs and paths.
	args func(f *goldenFixture) []string
	// prepare, if set, runs with the tool under test before the command
	// (to create a second key, a tag, and so on).
	prepare func(t *testing.T, f *goldenFixture)
	// stderr compares the standard error lines (exit_error) instead of
	// standard output.
	stderr bool
	// code is the exit code both tools must give.
	code int
	// emptyRepo runs the command on a repository without snapshots.
	emptyRepo bool
	// status requires status lines of both tools (recorded and tested),
	// which otherwise depend on timing and are compared only when present.
	status bool
}

// goldenFixture is a repository made by the tool under test: restic when
// recording, cairn when testing.
type goldenFixture struct {
	bin    string // the tool under test
	env    []string
	repo   string
	src    string   // the backed-up tree
	target string   // an empty directory for restore
	snaps  []string // full IDs of the two snapshots, oldest first
}

// run runs the tool under test in the fixture's environment.
func (f *goldenFixture) run(t *testing.T, args ...string) result {
	t.Helper()
	return runIn(t, f.src, f.env, f.bin, args...)
}

// must is run, failing the test on a non-zero exit.
func (f *goldenFixture) must(t *testing.T, args ...string) string {
	t.Helper()
	res := f.run(t, args...)
	if res.code != 0 {
		t.Fatalf("%s %v: %v", filepath.Base(f.bin), args, res)
	}
	return res.stdout
}

// newGoldenFixture builds the fixture: a small tree of files, directories
// and a symlink, backed up twice (the second time with one file changed and
// one added), so that diff, forget and find have something to show.
func newGoldenFixture(t *testing.T, bin string, empty bool) *goldenFixture {
	t.Helper()
	base := t.TempDir()
	f := &goldenFixture{
		bin:    bin,
		repo:   filepath.Join(base, "repo"),
		src:    filepath.Join(base, "src"),
		target: filepath.Join(base, "target"),
	}
	f.env = append(repoEnv(f.repo, "golden"), "RESTIC_HOST=golden-host")
	for _, d := range []string{f.src, f.target} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, f.src, "docs/a.txt", "alpha\n")
	writeFile(t, f.src, "docs/b.txt", strings.Repeat("bravo ", 1000))
	writeFile(t, f.src, "data/big.bin", strings.Repeat("0123456789abcdef", 1<<14))
	writeFile(t, f.src, "top.txt", "top\n")
	if err := os.Symlink("docs/a.txt", filepath.Join(f.src, "link")); err != nil {
		t.Fatal(err)
	}
	f.must(t, "init")
	if empty {
		return f
	}
	f.must(t, "backup", "--tag", "golden", ".")
	writeFile(t, f.src, "docs/a.txt", "alpha, changed\n")
	writeFile(t, f.src, "docs/c.txt", "charlie\n")
	f.must(t, "backup", "--tag", "golden", ".")
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(f.must(t, "snapshots", "--json")), &snaps); err != nil || len(snaps) != 2 {
		t.Fatalf("fixture snapshots: %v (%d)", err, len(snaps))
	}
	for _, s := range snaps {
		f.snaps = append(f.snaps, s.ID)
	}
	return f
}

// goldenTool is the binary a golden test runs: restic when recording,
// cairn otherwise.
func goldenTool(t *testing.T) string {
	if *updateGolden {
		return resticBin(t)
	}
	return cairnBin
}

// runGolden records or checks each case, each on a fresh fixture.
func runGolden(t *testing.T, cases []goldenCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bin := goldenTool(t)
			f := newGoldenFixture(t, bin, c.emptyRepo)
			if c.prepare != nil {
				c.prepare(t, f)
			}
			args := append(c.args(f), "--json")
			res := f.run(t, args...)
			if res.code != c.code {
				t.Fatalf("%s %v: exit %d, want %d\n%v", filepath.Base(bin), args, res.code, c.code, res)
			}
			out := res.stdout
			if c.stderr {
				out = res.stderr
			}
			if c.status && !strings.Contains(out, `"message_type":"status"`) {
				t.Fatalf("%s %v printed no status line:\n%s", filepath.Base(bin), args, out)
			}
			file := filepath.Join("testdata", "golden", c.name+".jsonl")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (record it with make golden)", err)
			}
			if diff := compareShapes(string(want), out); diff != "" {
				t.Errorf("cairn %v: output differs in shape from restic's (%s):\n%s\ncairn printed:\n%s", args, file, diff, out)
			}
		})
	}
}

// Message types whose presence depends on timing: compared when both tools
// print them, not required of either.
var timedMessages = []string{"status"}

// compareShapes compares the shapes of two outputs of JSON lines and
// describes each difference, one a line; "" means the same shape.
func compareShapes(want, got string) string {
	ws, err := lineShapes(want)
	if err != nil {
		return "restic's recorded output: " + err.Error()
	}
	gs, err := lineShapes(got)
	if err != nil {
		return "cairn's output: " + err.Error()
	}
	var diffs []string
	for _, mt := range sortedKeys(ws) {
		g, ok := gs[mt]
		if !ok {
			if !slices.Contains(timedMessages, mt) {
				diffs = append(diffs, fmt.Sprintf("message %s: missing", mt))
			}
			continue
		}
		if slices.Contains(timedMessages, mt) {
			// restic leaves zero counters out (seconds_elapsed in the
			// first second, files_skipped, ...), so which keys a status
			// line has depends on timing: compare the keys both have.
			diffs = append(diffs, commonKeysDiff(mt, ws[mt], g)...)
			continue
		}
		diffs = append(diffs, shapeDiff(mt, ws[mt], g)...)
	}
	for _, mt := range sortedKeys(gs) {
		if _, ok := ws[mt]; !ok && !slices.Contains(timedMessages, mt) {
			diffs = append(diffs, fmt.Sprintf("message %s: restic prints no such message", mt))
		}
	}
	return strings.Join(diffs, "\n")
}

// lineShapes parses each non-empty line as JSON and merges the shapes of
// lines with the same message_type ("" for lines without one, such as the
// arrays of snapshots and find).
func lineShapes(out string) (map[string]*shape, error) {
	shapes := map[string]*shape{}
	for i, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return nil, fmt.Errorf("line %d is not JSON: %v: %q", i+1, err, line)
		}
		mt := ""
		if m, ok := v.(map[string]any); ok {
			mt, _ = m["message_type"].(string)
		}
		s := shapeOf(v)
		if old, ok := shapes[mt]; ok {
			old.merge(s)
		} else {
			shapes[mt] = s
		}
	}
	return shapes, nil
}

// shape is the type of a JSON value: its kind, the shapes of an object's
// keys, the merged shape of an array's elements.
type shape struct {
	kind string // object, array, string, number, bool, null
	keys map[string]*shape
	elem *shape
}

func shapeOf(v any) *shape {
	switch v := v.(type) {
	case map[string]any:
		s := &shape{kind: "object", keys: map[string]*shape{}}
		for k, e := range v {
			s.keys[k] = shapeOf(e)
		}
		return s
	case []any:
		s := &shape{kind: "array"}
		for _, e := range v {
			if s.elem == nil {
				s.elem = shapeOf(e)
			} else {
				s.elem.merge(shapeOf(e))
			}
		}
		return s
	case string:
		return &shape{kind: "string"}
	case float64:
		return &shape{kind: "number"}
	case bool:
		return &shape{kind: "bool"}
	}
	return &shape{kind: "null"}
}

// merge widens s by o: the union of keys, the first non-null kind.
func (s *shape) merge(o *shape) {
	if s.kind == "null" {
		*s = *o
		return
	}
	if o.kind != s.kind {
		return
	}
	for k, v := range o.keys {
		if old, ok := s.keys[k]; ok {
			old.merge(v)
		} else {
			s.keys[k] = v
		}
	}
	switch {
	case s.elem == nil:
		s.elem = o.elem
	case o.elem != nil:
		s.elem.merge(o.elem)
	}
}

// shapeDiff lists where got's shape differs from want's. null is taken to
// match an empty object or array (Go's nil maps and slices) and any kind
// when one side never saw a value.
func shapeDiff(path string, want, got *shape) []string {
	if want.kind == "null" || got.kind == "null" {
		return nil
	}
	if want.kind != got.kind {
		return []string{fmt.Sprintf("%s: %s, restic has %s", path, got.kind, want.kind)}
	}
	var diffs []string
	for _, k := range sortedKeys(want.keys) {
		g, ok := got.keys[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
			continue
		}
		diffs = append(diffs, shapeDiff(path+"."+k, want.keys[k], g)...)
	}
	for _, k := range sortedKeys(got.keys) {
		if _, ok := want.keys[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s.%s: restic has no such key", path, k))
		}
	}
	if want.elem != nil && got.elem != nil {
		diffs = append(diffs, shapeDiff(path+"[]", want.elem, got.elem)...)
	}
	return diffs
}

// commonKeysDiff is shapeDiff restricted to the top-level keys both
// shapes have.
func commonKeysDiff(path string, want, got *shape) []string {
	var diffs []string
	for _, k := range sortedKeys(want.keys) {
		if g, ok := got.keys[k]; ok {
			diffs = append(diffs, shapeDiff(path+"."+k, want.keys[k], g)...)
		}
	}
	return diffs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestCompareShapes shows that the comparison catches what it must: a
// missing key, a changed type, an extra message, and passes equal shapes.
func TestCompareShapes(t *testing.T) {
	restic := `{"message_type":"summary","files_new":1,"snapshot_id":"ab","paths":["/x"]}` + "\n" +
		`{"message_type":"status","files_new":1,"seconds_elapsed":1}` + "\n"
	for got, wantDiff := range map[string]string{
		`{"message_type":"summary","files_new":2,"snapshot_id":"cd","paths":["/y","/z"]}`:                                             "",
		`{"message_type":"summary","files_new":2,"snapshot_id":"cd","paths":null}`:                                                    "",
		`{"message_type":"summary","files_new":2,"paths":[]}`:                                                                         "summary.snapshot_id: missing",
		`{"message_type":"summary","files_new":"2","snapshot_id":"cd","paths":[]}`:                                                    "summary.files_new: string, restic has number",
		`{"message_type":"summary","files_new":2,"snapshot_id":"cd","paths":[1]}`:                                                     "summary.paths[]: number, restic has string",
		`{"message_type":"summary","files_new":2,"snapshot_id":"cd","extra":1,"paths":[]}`:                                            "summary.extra: restic has no such key",
		`{"message_type":"status","x":1}` + "\n" + `{"message_type":"summary","files_new":2,"snapshot_id":"cd","paths":[]}`:           "",
		`{"message_type":"status","files_new":"1"}` + "\n" + `{"message_type":"summary","files_new":2,"snapshot_id":"cd","paths":[]}`: "status.files_new: string, restic has number",
		`{"message_type":"oops"}` + "\n" + `{"message_type":"summary","files_new":2,"snapshot_id":"cd","paths":[]}`:                   "message oops: restic prints no such message",
		`not json`: "cairn's output: line 1 is not JSON",
	} {
		diff := compareShapes(restic, got)
		if (wantDiff == "") != (diff == "") || !strings.Contains(diff, wantDiff) {
			t.Errorf("compareShapes(%s) = %q, want %q", got, diff, wantDiff)
		}
	}
	if d := compareShapes(restic, ""); !strings.Contains(d, "message summary: missing") {
		t.Errorf("empty output: %q", d)
	}
}
