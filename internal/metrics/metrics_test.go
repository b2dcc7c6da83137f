package metrics_test

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/metrics"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/stats"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const password = "metrics-test"

// newRepo initialises a repository in a temporary directory and returns
// it opened, with its directory.
func newRepo(t *testing.T) (*repository.Repository, string) {
	t.Helper()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "repo")
	opts := repository.Options{Compression: repository.CompressionOff}
	be, err := local.Create(dir)
	if err != nil {
		t.Fatalf("local.Create(%s) = %v", dir, err)
	}
	kp, err := repository.FixedKeyParams(1024, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repository.Init(ctx, be, password, repository.InitOptions{Version: 2, Params: kp}, opts); err != nil {
		t.Fatalf("repository.Init(%s) = %v", dir, err)
	}
	if be, err = local.Open(dir); err != nil {
		t.Fatalf("local.Open(%s) = %v", dir, err)
	}
	repo, err := repository.Open(ctx, be, password, opts)
	if err != nil {
		t.Fatalf("repository.Open(%s) = %v", dir, err)
	}
	return repo, dir
}

// backup archives src and saves a snapshot of it for host at when.
func backup(t *testing.T, repo *repository.Repository, src, host string, when time.Time) *snapshot.Snapshot {
	t.Helper()
	ctx := t.Context()
	if _, err := repo.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if err := repo.StartWriting(ctx, repository.WriteOptions{PackSize: repository.MinPackSize}); err != nil {
		t.Fatal(err)
	}
	root, sum, err := archiver.New(repo, archiver.Options{Polynomial: repo.Config().ChunkerPolynomial}).Run(ctx, []string{src}, nil)
	if _, ferr := repo.Finish(ctx); err == nil {
		err = ferr
	}
	if err != nil || sum.Errors > 0 {
		t.Fatalf("archive %s: %v, %d errors", src, err, sum.Errors)
	}
	sn, err := snapshot.New([]string{src}, nil, host, when)
	if err != nil {
		t.Fatal(err)
	}
	sn.Tree = &root
	doc, err := sn.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if sn.ID, err = repo.SaveUnpacked(ctx, backend.SnapshotFile, doc); err != nil {
		t.Fatal(err)
	}
	return sn
}

// writeRandom writes n random bytes (distinct contents per seed) to path.
func writeRandom(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// parse reads a text-format metrics file into "name{k=v,...}" → value,
// labels sorted by name.
func parse(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
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

// gather writes g with WriteFile and parses the file.
func gather(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.prom")
	if err := metrics.WriteFile(p, g); err != nil {
		t.Fatalf("WriteFile() = %v", err)
	}
	return parse(t, p)
}

// packFiles returns the number and total size of the pack files in dir.
func packFiles(t *testing.T, dir string) (n int, size int64) {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "data", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		n++
		size += fi.Size()
	}
	return n, size
}

func TestRepository(t *testing.T) {
	ctx := t.Context()
	repo, dir := newRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	other := filepath.Join(t.TempDir(), "other")
	writeRandom(t, filepath.Join(src, "a"), 3000, 1)
	writeRandom(t, filepath.Join(src, "sub", "b"), 5000, 2)
	writeRandom(t, filepath.Join(other, "c"), 700, 3)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	old := backup(t, repo, src, "h1", t0)
	// The newest snapshot of h1 has one file more than the older one.
	writeRandom(t, filepath.Join(src, "sub", "d"), 11000, 4)
	latest := backup(t, repo, src, "h1", t0.Add(time.Hour))
	h2 := backup(t, repo, other, "h2", t0.Add(30*time.Minute))
	snaps := []*snapshot.Snapshot{old, latest, h2}
	if _, err := repo.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(2 * time.Hour)

	restoreSize := func(sn *snapshot.Snapshot) stats.Totals {
		c := stats.New(repo, stats.RestoreSize)
		if err := c.Add(ctx, sn); err != nil {
			t.Fatal(err)
		}
		tot, err := c.Totals()
		if err != nil {
			t.Fatal(err)
		}
		return tot
	}
	latestTot, h2Tot := restoreSize(latest), restoreSize(h2)
	if got, want := latestTot.TotalSize, uint64(3000+5000+11000); got != want {
		t.Fatalf("restore size of the newest snapshot = %d, want %d", got, want)
	}
	if restoreSize(old).TotalFileCount == latestTot.TotalFileCount {
		t.Fatal("the two snapshots of h1 have the same file count; the test cannot tell them apart")
	}
	packs, packBytes := packFiles(t, dir)
	distinct := repo.Index().Len()
	raw := stats.New(repo, stats.RawData)
	for _, sn := range snaps {
		if err := raw.Add(ctx, sn); err != nil {
			t.Fatal(err)
		}
	}
	rawTot, err := raw.Totals()
	if err != nil {
		t.Fatal(err)
	}

	srcPaths, otherPaths := old.Paths[0], h2.Paths[0]
	want := map[string]float64{
		"cairn_snapshots{host=h1}": 2,
		"cairn_snapshots{host=h2}": 1,
		"cairn_snapshot_latest_timestamp_seconds{host=h1,paths=" + srcPaths + "}":   float64(t0.Add(time.Hour).Unix()),
		"cairn_snapshot_latest_timestamp_seconds{host=h2,paths=" + otherPaths + "}": float64(t0.Add(30 * time.Minute).Unix()),
		"cairn_snapshot_latest_age_seconds{host=h1,paths=" + srcPaths + "}":         3600,
		"cairn_snapshot_latest_age_seconds{host=h2,paths=" + otherPaths + "}":       5400,
		"cairn_snapshot_latest_files{host=h1,paths=" + srcPaths + "}":               float64(latestTot.TotalFileCount),
		"cairn_snapshot_latest_files{host=h2,paths=" + otherPaths + "}":             float64(h2Tot.TotalFileCount),
		"cairn_snapshot_latest_bytes{host=h1,paths=" + srcPaths + "}":               19000,
		"cairn_snapshot_latest_bytes{host=h2,paths=" + otherPaths + "}":             700,
		"cairn_repository_size_bytes":                                               float64(packBytes),
		"cairn_packs":                                                               float64(packs),
		// Four distinct file contents, one chunk each.
		"cairn_blobs{type=data}": 4,
		"cairn_blobs{type=tree}": float64(distinct - 4),
		// Every blob is used by some snapshot.
		"cairn_raw_data_blobs": float64(distinct),
		"cairn_raw_data_bytes": float64(rawTot.TotalSize),
	}
	if rawTot.TotalBlobCount != uint64(distinct) {
		t.Fatalf("raw-data blob count %d, index has %d distinct blobs", rawTot.TotalBlobCount, distinct)
	}

	reg, err := metrics.Repository(ctx, repo, snaps, nil, now)
	if err != nil {
		t.Fatalf("Repository() = %v", err)
	}
	if diff := cmp.Diff(want, gather(t, reg)); diff != "" {
		t.Errorf("Repository() without a check result (-want +got):\n%s", diff)
	}

	// The order of snaps does not matter, and a check result adds its
	// gauges.
	last := &metrics.CheckResult{Time: t0.Add(90 * time.Minute), Errors: 3, Success: false}
	reg, err = metrics.Repository(ctx, repo, []*snapshot.Snapshot{h2, latest, old}, last, now)
	if err != nil {
		t.Fatalf("Repository() = %v", err)
	}
	want2 := maps.Clone(want)
	want2["cairn_check_success"] = 0
	want2["cairn_check_errors"] = 3
	want2["cairn_check_timestamp_seconds"] = float64(last.Time.Unix())
	if diff := cmp.Diff(want2, gather(t, reg)); diff != "" {
		t.Errorf("Repository() with a check result (-want +got):\n%s", diff)
	}

	// Only the snapshots passed are counted.
	reg, err = metrics.Repository(ctx, repo, []*snapshot.Snapshot{h2}, nil, now)
	if err != nil {
		t.Fatalf("Repository() = %v", err)
	}
	got := gather(t, reg)
	if _, ok := got["cairn_snapshots{host=h1}"]; ok {
		t.Errorf("Repository(h2 only) counts h1's snapshots: %v", got)
	}
	if got["cairn_raw_data_blobs"] >= float64(distinct) {
		t.Errorf("Repository(h2 only) raw data blobs = %v, want fewer than %d", got["cairn_raw_data_blobs"], distinct)
	}
}

// TestRepositoryMissingBlob: a snapshot whose tree the index lacks is an
// error, not a panic or a silent zero.
func TestRepositoryMissingBlob(t *testing.T) {
	ctx := t.Context()
	repo, _ := newRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandom(t, filepath.Join(src, "a"), 100, 1)
	sn := backup(t, repo, src, "h", time.Now())
	if _, err := repo.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	bad := *sn
	tree := *sn.Tree
	tree[0] ^= 0xff
	bad.Tree = &tree
	if _, err := metrics.Repository(ctx, repo, []*snapshot.Snapshot{&bad}, nil, time.Now()); err == nil {
		t.Fatal("Repository() with a snapshot whose tree is missing = nil error")
	}
}

func TestCommandFigures(t *testing.T) {
	start := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Second)
	ok := metrics.Run{Start: start, End: end}
	failed := metrics.Run{Start: start, End: end, Err: errors.New("boom")}
	common := func(cmd string, success float64, labels string) map[string]float64 {
		return map[string]float64{
			"cairn_" + cmd + "_success" + labels:           success,
			"cairn_" + cmd + "_duration_seconds" + labels:  90,
			"cairn_" + cmd + "_timestamp_seconds" + labels: float64(end.Unix()),
		}
	}
	with := func(m map[string]float64, kv ...any) map[string]float64 {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = float64(kv[i+1].(int))
		}
		return m
	}
	sum := &snapshot.Summary{
		FilesNew: 1, FilesChanged: 2, FilesUnmodified: 3, DirsNew: 4, DirsChanged: 5, DirsUnmodified: 6,
		DataBlobs: 7, TreeBlobs: 8, DataAdded: 9, DataAddedPacked: 10, TotalFilesProcessed: 11, TotalBytesProcessed: 12,
	}
	bl := "{host=web1,paths=/etc,/srv}"
	cases := []struct {
		name string
		reg  *prometheus.Registry
		want map[string]float64
	}{
		{"backup", metrics.Backup(ok, "web1", []string{"/srv", "/etc"}, sum), with(common("backup", 1, bl),
			"cairn_backup_files_new"+bl, 1, "cairn_backup_files_changed"+bl, 2, "cairn_backup_files_unmodified"+bl, 3,
			"cairn_backup_dirs_new"+bl, 4, "cairn_backup_dirs_changed"+bl, 5, "cairn_backup_dirs_unmodified"+bl, 6,
			"cairn_backup_data_blobs"+bl, 7, "cairn_backup_tree_blobs"+bl, 8,
			"cairn_backup_data_added_bytes"+bl, 9, "cairn_backup_data_added_packed_bytes"+bl, 10,
			"cairn_backup_total_files_processed"+bl, 11, "cairn_backup_total_bytes_processed"+bl, 12)},
		{"backup failed before a snapshot", metrics.Backup(failed, "web1", []string{"/srv", "/etc"}, nil), common("backup", 0, bl)},
		{"backup host not UTF-8", metrics.Backup(failed, "h\xff", []string{"/x"}, nil), common("backup", 0, "{host=h\uFFFD,paths=/x}")},
		{"forget", metrics.Forget(ok, &metrics.ForgetFigures{Removed: 3, Kept: 5}), with(common("forget", 1, ""),
			"cairn_forget_snapshots_removed", 3, "cairn_forget_snapshots_kept", 5)},
		{"forget failed", metrics.Forget(failed, nil), common("forget", 0, "")},
		{"prune", metrics.Prune(ok, &metrics.PruneFigures{PacksRemoved: 1, PacksCondemned: 2, PacksNew: 3, BlobsRepacked: 4, BytesFreed: 5, BytesRemaining: 6, BytesUnusedAfter: 7}),
			with(common("prune", 1, ""), "cairn_prune_packs_removed", 1, "cairn_prune_packs_condemned", 2, "cairn_prune_packs_new", 3,
				"cairn_prune_blobs_repacked", 4, "cairn_prune_bytes_freed", 5, "cairn_prune_bytes_remaining", 6, "cairn_prune_bytes_unused_after", 7)},
		{"prune failed", metrics.Prune(failed, nil), common("prune", 0, "")},
		{"check", metrics.Check(ok, 0), with(common("check", 1, ""), "cairn_check_errors", 0)},
		{"check failed", metrics.Check(failed, 2), with(common("check", 0, ""), "cairn_check_errors", 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, gather(t, c.reg)); diff != "" {
				t.Errorf("figures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckResult(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache", "0123")
	if r, err := metrics.LoadCheckResult(dir); r != nil || err != nil {
		t.Fatalf("LoadCheckResult(no file) = %v, %v; want nil, nil", r, err)
	}
	want := metrics.CheckResult{Time: time.Date(2026, 12, 4, 1, 2, 3, 400, time.UTC), Errors: 2, Success: false, ReadData: true}
	if err := metrics.SaveCheckResult(dir, want); err != nil {
		t.Fatalf("SaveCheckResult() = %v", err)
	}
	got, err := metrics.LoadCheckResult(dir)
	if err != nil || got == nil {
		t.Fatalf("LoadCheckResult() = %v, %v", got, err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	p := filepath.Join(dir, metrics.CheckResultFile)
	doc, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"time"`, `"errors":2`, `"success":false`, `"read_data":true`} {
		if !strings.Contains(string(doc), key) {
			t.Errorf("%s = %s, want %s in it", p, doc, key)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of %s = %v, want 0600", p, fi.Mode().Perm())
	}
	// A second save replaces the first and leaves no temporary file.
	want.Success, want.Errors = true, 0
	if err := metrics.SaveCheckResult(dir, want); err != nil {
		t.Fatalf("SaveCheckResult() = %v", err)
	}
	if got, err = metrics.LoadCheckResult(dir); err != nil || got == nil || !got.Success {
		t.Fatalf("LoadCheckResult() after a second save = %+v, %v", got, err)
	}
	assertOnly(t, dir, metrics.CheckResultFile)

	for _, c := range []struct{ name, content string }{
		{"empty", ""},
		{"truncated", `{"time":"2026-12-04T01:02:03Z","err`},
		{"not an object", `[1,2]`},
		{"null", `null`},
		{"wrong type", `{"time":"2026-12-04T01:02:03Z","errors":"many"}`},
		{"binary", "\x00\xff\x10"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(p, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := metrics.LoadCheckResult(dir)
			if err == nil || r != nil {
				t.Fatalf("LoadCheckResult(%q) = %v, %v; want an error", c.content, r, err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name %s", err, p)
			}
		})
	}

	// A directory that cannot be created is an error.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := metrics.SaveCheckResult(filepath.Join(blocker, "sub"), want); err == nil {
		t.Error("SaveCheckResult(under a file) = nil error")
	}
}

// assertOnly fails unless dir holds exactly the named files.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", dir, diff)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cairn.prom")
	run := metrics.Run{Start: time.Unix(1000, 0), End: time.Unix(1010, 0)}
	if err := metrics.WriteFile(p, metrics.Check(run, 0)); err != nil {
		t.Fatalf("WriteFile() = %v", err)
	}
	// An open reader of the first file keeps reading the first version:
	// the file is replaced, not rewritten in place.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run.Err = errors.New("failed")
	if err := metrics.WriteFile(p, metrics.Check(run, 4)); err != nil {
		t.Fatalf("WriteFile() again = %v", err)
	}
	if got := parse(t, p); got["cairn_check_success"] != 0 || got["cairn_check_errors"] != 4 {
		t.Errorf("second file = %v, want success 0 and errors 4", got)
	}
	first, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), "cairn_check_errors 0") {
		t.Errorf("the first file changed under its reader:\n%s", first)
	}
	assertOnly(t, dir, "cairn.prom")

	// No directory: an error, and nothing is left behind.
	missing := filepath.Join(dir, "no", "such", "cairn.prom")
	if err := metrics.WriteFile(missing, metrics.Check(run, 0)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile(%s) = %v, want fs.ErrNotExist", missing, err)
	}
	assertOnly(t, dir, "cairn.prom")
}
