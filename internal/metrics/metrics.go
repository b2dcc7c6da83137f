package metrics

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/stats"
	"github.com/prometheus/client_golang/prometheus"
)

// Prefix starts the name of every metric of this package.
const Prefix = "cairn_"

// Repository returns a fresh registry (without Go or process collectors)
// holding the figures of repo: the snapshots in snaps counted per host,
// the newest of them per host and path set with its age at now and its
// restore size, the pack files, the distinct blobs of the index, the raw
// data snaps use, and last, the outcome of the last check, when it is not
// nil. The index of repo must be loaded. Only snaps are counted, so the
// caller chooses which snapshots the figures describe.
func Repository(ctx context.Context, repo *repository.Repository, snaps []*snapshot.Snapshot, last *CheckResult, now time.Time) (*prometheus.Registry, error) {
	s := newGaugeSet()
	if err := snapshotFigures(ctx, s, repo, snaps, now); err != nil {
		return nil, err
	}

	var size, packs int64
	err := repo.ListFiles(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		size += fi.Size
		packs++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pack files: %w", err)
	}
	s.gauge("repository_size_bytes", "Total size of the pack files.", float64(size))
	s.gauge("packs", "Number of pack files.", float64(packs))

	var data, trees int
	repo.Index().Each(func(h blob.Handle) {
		switch h.Type {
		case blob.Data:
			data++
		case blob.Tree:
			trees++
		}
	})
	blobs := s.vec("blobs", "Distinct blobs in the index, by type.", "type")
	s.set(blobs, float64(data), "data")
	s.set(blobs, float64(trees), "tree")

	raw := stats.New(repo, stats.RawData)
	for _, sn := range snaps {
		if err := raw.Add(ctx, sn); err != nil {
			return nil, fmt.Errorf("raw data of snapshot %s: %w", sn.ID.Str(), err)
		}
	}
	rt, err := raw.Totals()
	if err != nil {
		return nil, err
	}
	s.gauge("raw_data_bytes", "Stored size of the distinct blobs the snapshots use (stats --mode raw-data).", float64(rt.TotalSize))
	s.gauge("raw_data_blobs", "Number of distinct blobs the snapshots use (stats --mode raw-data).", float64(rt.TotalBlobCount))

	if last != nil {
		s.gauge("check_success", "1 if the last check found no errors and finished, else 0.", bool01(last.Success))
		s.gauge("check_errors", "Errors the last check found.", float64(last.Errors))
		s.gauge("check_timestamp_seconds", "End of the last check, in seconds since the epoch.", seconds(last.Time))
	}
	return s.reg, s.err
}

// snapshotFigures adds the gauges about snapshots: their number per host,
// and the newest one of each host and path set.
func snapshotFigures(ctx context.Context, s *gaugeSet, repo *repository.Repository, snaps []*snapshot.Snapshot, now time.Time) error {
	count := s.vec("snapshots", "Number of snapshots, by host.", "host")
	perHost := map[string]int{}
	type key struct{ host, paths string }
	newest := map[key]*snapshot.Snapshot{}
	for _, sn := range snaps {
		perHost[sn.Hostname]++
		k := key{sn.Hostname, joinPaths(sn.Paths)}
		if cur := newest[k]; cur == nil || newer(sn, cur) {
			newest[k] = sn
		}
	}
	for host, n := range perHost {
		s.set(count, float64(n), host)
	}

	labels := []string{"host", "paths"}
	ts := s.vec("snapshot_latest_timestamp_seconds", "Time of the newest snapshot of a host and path set, in seconds since the epoch.", labels...)
	age := s.vec("snapshot_latest_age_seconds", "Age of the newest snapshot of a host and path set, in seconds.", labels...)
	files := s.vec("snapshot_latest_files", "Entries in the newest snapshot of a host and path set (stats --mode restore-size total_file_count).", labels...)
	size := s.vec("snapshot_latest_bytes", "Bytes a restore of the newest snapshot of a host and path set writes (stats --mode restore-size total_size).", labels...)
	for k, sn := range newest {
		c := stats.New(repo, stats.RestoreSize)
		if err := c.Add(ctx, sn); err != nil {
			return fmt.Errorf("restore size of snapshot %s: %w", sn.ID.Str(), err)
		}
		t, err := c.Totals()
		if err != nil {
			return err
		}
		s.set(ts, seconds(sn.Time), k.host, k.paths)
		s.set(age, now.Sub(sn.Time).Seconds(), k.host, k.paths)
		s.set(files, float64(t.TotalFileCount), k.host, k.paths)
		s.set(size, float64(t.TotalSize), k.host, k.paths)
	}
	return nil
}

// newer reports whether a is newer than b; of two snapshots of the same
// time, the one with the larger ID counts as newer, so that the choice
// does not depend on the order of snaps.
func newer(a, b *snapshot.Snapshot) bool {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c > 0
	}
	return bytes.Compare(a.ID[:], b.ID[:]) > 0
}

// joinPaths is the paths label: the paths sorted and joined with ",", so
// that snapshots of the same set of paths (restic groups them so) share it.
func joinPaths(paths []string) string {
	return strings.Join(slices.Sorted(slices.Values(paths)), ",")
}

// gaugeSet registers gauges in one registry and keeps the first error.
type gaugeSet struct {
	reg *prometheus.Registry
	err error
}

func newGaugeSet() *gaugeSet {
	return &gaugeSet{reg: prometheus.NewRegistry()}
}

func (s *gaugeSet) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// vec registers the gauge vector Prefix+name with the given label names.
func (s *gaugeSet) vec(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: Prefix + name, Help: help}, labels)
	if err := s.reg.Register(v); err != nil {
		s.fail(fmt.Errorf("register %s: %w", Prefix+name, err))
	}
	return v
}

// set sets the gauge of v with the label values to x. Label values that
// are not UTF-8 (file names need not be) get U+FFFD in place of the bad
// bytes, as Prometheus takes only UTF-8.
func (s *gaugeSet) set(v *prometheus.GaugeVec, x float64, values ...string) {
	for i, lv := range values {
		values[i] = strings.ToValidUTF8(lv, "\uFFFD")
	}
	g, err := v.GetMetricWithLabelValues(values...)
	if err != nil {
		s.fail(err)
		return
	}
	g.Set(x)
}

// gauge registers Prefix+name without labels and sets it to x.
func (s *gaugeSet) gauge(name, help string, x float64) {
	s.set(s.vec(name, help), x)
}

// bool01 is 1 for true and 0 for false.
func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seconds is t in seconds since the epoch, with its fraction.
func seconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
