package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/metrics"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics reads a text-format metrics file into "name{k=v,...}" →
// value, labels sorted by name; a metric given twice fails the test.
func parseMetrics(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("metrics file: %v", err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			if _, dup := out[key]; dup {
				t.Errorf("%s: %s twice", path, key)
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

// wantMetric fails the test unless m[key] is want.
func wantMetric(t *testing.T, m map[string]float64, key string, want float64) {
	t.Helper()
	got, ok := m[key]
	switch {
	case !ok:
		t.Errorf("metric %s missing; have %v", key, slices.Sorted(maps.Keys(m)))
	case got != want:
		t.Errorf("metric %s = %v, want %v", key, got, want)
	}
}

// wantRun checks the common gauges of a command run that ended between
// before and after.
func wantRun(t *testing.T, m map[string]float64, cmd, labels string, success float64, before, after time.Time) {
	t.Helper()
	wantMetric(t, m, "cairn_"+cmd+"_success"+labels, success)
	ts := m["cairn_"+cmd+"_timestamp_seconds"+labels]
	if ts < float64(before.Unix()) || ts > float64(after.Unix()+1) {
		t.Errorf("cairn_%s_timestamp_seconds = %v, not between %v and %v", cmd, ts, before.Unix(), after.Unix())
	}
	d, ok := m["cairn_"+cmd+"_duration_seconds"+labels]
	if !ok || d <= 0 || d > after.Sub(before).Seconds() {
		t.Errorf("cairn_%s_duration_seconds = %v (present %v), want in (0, %v]", cmd, d, ok, after.Sub(before).Seconds())
	}
}

// TestMetricsFile runs backup, forget, prune and check with
// --metrics-file and compares each file with the command's --json output,
// then a failing check and a failing backup, which write success 0 and
// keep their exit codes.
func TestMetricsFile(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	cacheDir := filepath.Join(dir, "cache")
	env := repoEnv(repo, "metrics")
	cairn(t, env, "init")
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a", strings.Repeat("alpha ", 3000))
	writeFile(t, src, "sub/b", strings.Repeat("bravo ", 5000))
	mfile := func(name string) string { return filepath.Join(dir, name+".prom") }
	// timed runs cairn and returns its result and the span it ran in.
	timed := func(env []string, args ...string) (result, time.Time, time.Time) {
		t.Helper()
		before := time.Now().Add(-time.Second)
		res := run(t, env, cairnBin, append([]string{"--cache-dir", cacheDir}, args...)...)
		return res, before, time.Now()
	}

	// backup, three times: the second has one new and one changed file.
	var lastSnap string
	labels := "{host=metrics-host,paths=" + src + "}"
	for i, change := range []func(){nil, func() {
		writeFile(t, src, "c", "charlie")
		writeFile(t, src, "a", "changed")
	}, func() { writeFile(t, src, "d", "delta") }} {
		if change != nil {
			change()
		}
		res, before, after := timed(env, "backup", "--json", "--host", "metrics-host", "--metrics-file", mfile("backup"), src)
		if res.code != 0 {
			t.Fatalf("backup %d: %v", i, res)
		}
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		var sum struct {
			FilesNew, FilesChanged, FilesUnmodified                    int
			DirsNew, DirsChanged, DirsUnmodified, DataBlobs, TreeBlobs int
			DataAdded, DataAddedPacked                                 uint64
			TotalFilesProcessed, TotalBytesProcessed                   uint64
			SnapshotID                                                 string
		}
		must(t, json.Unmarshal([]byte(lines[len(lines)-1]), &snakeCase{&sum}))
		m := parseMetrics(t, mfile("backup"))
		wantRun(t, m, "backup", labels, 1, before, after)
		for key, v := range map[string]float64{
			"files_new": float64(sum.FilesNew), "files_changed": float64(sum.FilesChanged), "files_unmodified": float64(sum.FilesUnmodified),
			"dirs_new": float64(sum.DirsNew), "dirs_changed": float64(sum.DirsChanged), "dirs_unmodified": float64(sum.DirsUnmodified),
			"data_blobs": float64(sum.DataBlobs), "tree_blobs": float64(sum.TreeBlobs),
			"data_added_bytes": float64(sum.DataAdded), "data_added_packed_bytes": float64(sum.DataAddedPacked),
			"total_files_processed": float64(sum.TotalFilesProcessed), "total_bytes_processed": float64(sum.TotalBytesProcessed),
		} {
			wantMetric(t, m, "cairn_backup_"+key+labels, v)
		}
		if i == 1 && (sum.FilesNew != 1 || sum.FilesChanged != 1 || sum.FilesUnmodified != 1) {
			t.Errorf("second backup: files new/changed/unmodified = %d/%d/%d, want 1/1/1", sum.FilesNew, sum.FilesChanged, sum.FilesUnmodified)
		}
		lastSnap = sum.SnapshotID
	}

	// forget: the two older snapshots go.
	res, before, after := timed(env, "forget", "--json", "--keep-last", "1", "--metrics-file", mfile("forget"))
	if res.code != 0 {
		t.Fatalf("forget: %v", res)
	}
	var groups []struct {
		Keep, Remove []json.RawMessage
	}
	must(t, json.Unmarshal([]byte(res.stdout), &groups))
	var kept, removed int
	for _, gr := range groups {
		kept += len(gr.Keep)
		removed += len(gr.Remove)
	}
	if kept != 1 || removed != 2 {
		t.Fatalf("forget --json kept %d and removed %d, want 1 and 2:\n%s", kept, removed, res.stdout)
	}
	m := parseMetrics(t, mfile("forget"))
	wantRun(t, m, "forget", "", 1, before, after)
	wantMetric(t, m, "cairn_forget_snapshots_removed", float64(removed))
	wantMetric(t, m, "cairn_forget_snapshots_kept", float64(kept))

	// prune: what the older snapshots alone used goes.
	res, before, after = timed(env, "prune", "--json", "--max-unused", "0", "--grace", "0", "--metrics-file", mfile("prune"))
	if res.code != 0 {
		t.Fatalf("prune: %v", res)
	}
	var ps pruneSummaryJSON
	must(t, json.Unmarshal([]byte(res.stdout), &ps))
	if ps.BytesRemove+ps.BytesRepackRemoved == 0 {
		t.Fatalf("prune freed nothing; the test cannot compare figures:\n%s", res.stdout)
	}
	m = parseMetrics(t, mfile("prune"))
	wantRun(t, m, "prune", "", 1, before, after)
	for key, v := range map[string]float64{
		"packs_removed": float64(ps.RemovedPacks), "packs_condemned": float64(ps.CondemnedPacks), "packs_new": float64(ps.NewPacks),
		"blobs_repacked": float64(ps.RepackedBlobs), "bytes_freed": float64(ps.BytesRemove + ps.BytesRepackRemoved),
		"bytes_remaining": float64(ps.BytesRemaining), "bytes_unused_after": float64(ps.BytesUnusedAfter),
	} {
		wantMetric(t, m, "cairn_prune_"+key, v)
	}

	// check, without the cache (its default): the result is kept in the
	// cache directory all the same.
	res, before, after = timed(env, "check", "--json", "--metrics-file", mfile("check"))
	if res.code != 0 {
		t.Fatalf("check: %v", res)
	}
	m = parseMetrics(t, mfile("check"))
	wantRun(t, m, "check", "", 1, before, after)
	wantMetric(t, m, "cairn_check_errors", 0)
	var cfg struct {
		ID string `json:"id"`
	}
	must(t, json.Unmarshal([]byte(cairn(t, env, "cat", "config")), &cfg))
	g := &globalOptions{CacheDir: cacheDir}
	resultDir := g.checkResultDir(checkOpenRepo(t, repo, "metrics"))
	if want := filepath.Join(cacheDir, cfg.ID); resultDir != want {
		t.Fatalf("checkResultDir() = %s, want %s", resultDir, want)
	}
	last, err := metrics.LoadCheckResult(resultDir)
	if err != nil || last == nil || !last.Success || last.Errors != 0 || last.ReadData {
		t.Fatalf("check result after a good check = %+v, %v", last, err)
	}
	if last.Time.Before(before) || last.Time.After(after) {
		t.Errorf("check result time %v not between %v and %v", last.Time, before, after)
	}

	// The repository's figures agree with stats, and carry the check.
	repoFigures(t, env, repo, lastSnap, last)

	// A metrics file that cannot be written is a warning, not a failure.
	bad := filepath.Join(dir, "no-such-dir", "check.prom")
	res, _, _ = timed(env, "check", "-q", "--metrics-file", bad)
	if res.code != 0 || !strings.Contains(res.stderr, "warning: write metrics file "+bad) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
		t.Errorf("check with an unwritable metrics file: want exit 0 and a one-line warning, got %v", res)
	}

	// A damaged pack: check exits 1, and both the file and the kept
	// result say so.
	packs := checkFiles(t, repo, "data")
	if len(packs) == 0 {
		t.Fatal("no packs")
	}
	damage(t, checkPackPath(repo, packs[0]), func(b []byte) []byte { return b[:len(b)/2] })
	res, before, after = timed(env, "check", "--json", "--metrics-file", mfile("check"))
	if res.code != 1 {
		t.Fatalf("check of a damaged repository: want exit 1, got %v", res)
	}
	var cs checkSummaryJSON
	must(t, json.Unmarshal([]byte(res.stdout), &cs))
	if cs.NumErrors == 0 {
		t.Fatalf("check --json of a damaged repository reports no errors: %v", res)
	}
	m = parseMetrics(t, mfile("check"))
	wantRun(t, m, "check", "", 0, before, after)
	wantMetric(t, m, "cairn_check_errors", float64(cs.NumErrors))
	last, err = metrics.LoadCheckResult(resultDir)
	if err != nil || last == nil || last.Success || last.Errors != cs.NumErrors {
		t.Errorf("check result after a failed check = %+v, %v; want success false and %d errors", last, err, cs.NumErrors)
	}

	// --no-cache given: the kept result stays as it was.
	before2, err := os.ReadFile(filepath.Join(resultDir, metrics.CheckResultFile))
	must(t, err)
	res, _, _ = timed(env, "check", "--no-cache", "--read-data", "-q")
	if res.code != 1 {
		t.Fatalf("check --no-cache: want exit 1, got %v", res)
	}
	after2, err := os.ReadFile(filepath.Join(resultDir, metrics.CheckResultFile))
	must(t, err)
	if string(before2) != string(after2) {
		t.Errorf("check --no-cache changed the kept result:\n%s\n%s", before2, after2)
	}

	// A backup that fails (wrong password) writes success 0 with its
	// labels, and exits as it does without the flag.
	wrong := repoEnv(repo, "wrong")
	plain, _, _ := timed(wrong, "backup", "--host", "metrics-host", src)
	res, before, after = timed(wrong, "backup", "--host", "metrics-host", "--metrics-file", mfile("backup"), src)
	if res.code == 0 || res.code != plain.code {
		t.Fatalf("backup with a wrong password: exit %d with --metrics-file, %d without", res.code, plain.code)
	}
	m = parseMetrics(t, mfile("backup"))
	wantRun(t, m, "backup", labels, 0, before, after)
	if _, ok := m["cairn_backup_files_new"+labels]; ok {
		t.Errorf("failed backup reports files_new: %v", m)
	}
}

// snakeCase decodes a JSON object with snake_case keys into the struct
// v points to, whose field names are the keys in CamelCase.
type snakeCase struct{ v any }

func (s *snakeCase) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	camel := map[string]json.RawMessage{}
	for k, v := range raw {
		var c strings.Builder
		for _, part := range strings.Split(k, "_") {
			if part != "" {
				c.WriteString(strings.ToUpper(part[:1]) + part[1:])
			}
		}
		camel[c.String()] = v
	}
	doc, err := json.Marshal(camel)
	if err != nil {
		return err
	}
	return json.Unmarshal(doc, s.v)
}

// repoFigures builds the repository's figures in-process and compares
// them with cairn stats --json: restore size of the newest snapshot,
// raw data of all, and the last check.
func repoFigures(t *testing.T, env []string, dir, snap string, last *metrics.CheckResult) {
	t.Helper()
	ctx := t.Context()
	repo := checkOpenRepo(t, dir, "metrics")
	if _, err := repo.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.LoadAll(ctx, repo, nil)
	must(t, err)
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots, want 1", len(snaps))
	}
	reg, err := metrics.Repository(ctx, repo, snaps, last, time.Now())
	must(t, err)
	p := filepath.Join(t.TempDir(), "repo.prom")
	must(t, metrics.WriteFile(p, reg))
	m := parseMetrics(t, p)

	var restore, raw struct {
		TotalSize      uint64 `json:"total_size"`
		TotalFileCount uint64 `json:"total_file_count"`
		TotalBlobCount uint64 `json:"total_blob_count"`
	}
	must(t, json.Unmarshal([]byte(cairn(t, env, "stats", "--json", snap)), &restore))
	must(t, json.Unmarshal([]byte(cairn(t, env, "stats", "--json", "--mode", "raw-data")), &raw))
	labels := "{host=metrics-host,paths=" + strings.Join(snaps[0].Paths, ",") + "}"
	wantMetric(t, m, "cairn_snapshots{host=metrics-host}", 1)
	wantMetric(t, m, "cairn_snapshot_latest_files"+labels, float64(restore.TotalFileCount))
	wantMetric(t, m, "cairn_snapshot_latest_bytes"+labels, float64(restore.TotalSize))
	wantMetric(t, m, "cairn_snapshot_latest_timestamp_seconds"+labels, float64(snaps[0].Time.UnixNano())/1e9)
	wantMetric(t, m, "cairn_raw_data_bytes", float64(raw.TotalSize))
	wantMetric(t, m, "cairn_raw_data_blobs", float64(raw.TotalBlobCount))
	wantMetric(t, m, "cairn_check_success", 1)
	wantMetric(t, m, "cairn_check_errors", 0)
	var packs, size float64
	for _, name := range checkFiles(t, dir, "data") {
		fi, err := os.Stat(checkPackPath(dir, name))
		must(t, err)
		packs++
		size += float64(fi.Size())
	}
	wantMetric(t, m, "cairn_packs", packs)
	wantMetric(t, m, "cairn_repository_size_bytes", size)
	if m["cairn_blobs{type=data}"] < 3 || m["cairn_blobs{type=tree}"] < 2 {
		t.Errorf("blobs data %v, tree %v; want at least 3 and 2", m["cairn_blobs{type=data}"], m["cairn_blobs{type=tree}"])
	}
}
