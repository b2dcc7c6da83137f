package metrics

import (
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/prometheus/client_golang/prometheus"
)

// Run is one run of a command.
type Run struct {
	// Start and End are when the command started and ended.
	Start, End time.Time
	// Err is the error the command ended with; nil is success.
	Err error
}

// ForgetFigures are the counts of a forget run.
type ForgetFigures struct {
	// Removed is the number of snapshots removed (0 in a dry run).
	Removed int
	// Kept is the number of snapshots the policy kept; 0 when the
	// snapshots to remove were named by ID.
	Kept int
}

// PruneFigures are the counts of a prune run, those of its --json
// summary.
type PruneFigures struct {
	// PacksRemoved is the number of pack files deleted.
	PacksRemoved int
	// PacksCondemned is the number of packs this run condemned: deleted
	// in phase 2, at once or by a later prune.
	PacksCondemned int
	// PacksNew is the number of packs written by repacking.
	PacksNew int
	// BlobsRepacked is the number of blobs copied into new packs.
	BlobsRepacked int
	// BytesFreed is the stored size the plan takes out of the
	// repository: deleted and repacked-away blobs and unreferenced packs
	// (bytes_remove + bytes_repack_removed).
	BytesFreed uint64
	// BytesRemaining is the stored size left after the prune.
	BytesRemaining uint64
	// BytesUnusedAfter is the unused part of BytesRemaining.
	BytesUnusedAfter uint64
}

// Backup returns the figures of a backup of paths on host: the common
// ones of [Run] and, when sum is not nil (a snapshot was written), those
// of its summary. Every gauge has the labels host and paths (sorted,
// joined with ",").
func Backup(run Run, host string, paths []string, sum *snapshot.Summary) *prometheus.Registry {
	c := newCommand("backup", run, "host", "paths")
	if sum != nil {
		for _, f := range []struct {
			name, help string
			v          float64
		}{
			{"files_new", "Files added.", float64(sum.FilesNew)},
			{"files_changed", "Files changed since the parent snapshot.", float64(sum.FilesChanged)},
			{"files_unmodified", "Files unchanged since the parent snapshot.", float64(sum.FilesUnmodified)},
			{"dirs_new", "Directories added.", float64(sum.DirsNew)},
			{"dirs_changed", "Directories changed since the parent snapshot.", float64(sum.DirsChanged)},
			{"dirs_unmodified", "Directories unchanged since the parent snapshot.", float64(sum.DirsUnmodified)},
			{"data_blobs", "Data blobs added.", float64(sum.DataBlobs)},
			{"tree_blobs", "Tree blobs added.", float64(sum.TreeBlobs)},
			{"data_added_bytes", "Bytes of new blobs, before compression.", float64(sum.DataAdded)},
			{"data_added_packed_bytes", "Bytes of new blobs as stored.", float64(sum.DataAddedPacked)},
			{"total_files_processed", "Files the backup went through.", float64(sum.TotalFilesProcessed)},
			{"total_bytes_processed", "Bytes of the files the backup went through.", float64(sum.TotalBytesProcessed)},
		} {
			c.gauge(f.name, f.help, f.v)
		}
	}
	return c.registry(host, joinPaths(paths))
}

// Forget returns the figures of a forget run: the common ones of [Run]
// and, when f is not nil, its counts.
func Forget(run Run, f *ForgetFigures) *prometheus.Registry {
	c := newCommand("forget", run)
	if f != nil {
		c.gauge("snapshots_removed", "Snapshots removed.", float64(f.Removed))
		c.gauge("snapshots_kept", "Snapshots the policy kept.", float64(f.Kept))
	}
	return c.registry()
}

// Prune returns the figures of a prune run: the common ones of [Run]
// and, when f is not nil, its counts.
func Prune(run Run, f *PruneFigures) *prometheus.Registry {
	c := newCommand("prune", run)
	if f != nil {
		c.gauge("packs_removed", "Pack files deleted.", float64(f.PacksRemoved))
		c.gauge("packs_condemned", "Packs condemned by this run, deleted in phase 2.", float64(f.PacksCondemned))
		c.gauge("packs_new", "Packs written by repacking.", float64(f.PacksNew))
		c.gauge("blobs_repacked", "Blobs copied into new packs.", float64(f.BlobsRepacked))
		c.gauge("bytes_freed", "Stored bytes the prune takes out of the repository.", float64(f.BytesFreed))
		c.gauge("bytes_remaining", "Stored bytes left after the prune.", float64(f.BytesRemaining))
		c.gauge("bytes_unused_after", "Unused stored bytes left after the prune.", float64(f.BytesUnusedAfter))
	}
	return c.registry()
}

// Check returns the figures of a check run: the common ones of [Run] and
// the number of errors it found.
func Check(run Run, errors int) *prometheus.Registry {
	c := newCommand("check", run)
	c.gauge("errors", "Errors the check found.", float64(errors))
	return c.registry()
}

// command collects the gauges of one command run, all with the same
// label names; their values are given to registry.
type command struct {
	name   string
	labels []string
	s      *gaugeSet
	vecs   []*prometheus.GaugeVec
	values []float64
}

// newCommand starts the figures of a run of the command name with the
// common gauges: cairn_<name>_success (1 or 0), _duration_seconds and
// _timestamp_seconds (the end).
func newCommand(name string, run Run, labels ...string) *command {
	c := &command{name: name, labels: labels, s: newGaugeSet()}
	c.gauge("success", "1 if the last run succeeded, else 0.", bool01(run.Err == nil))
	c.gauge("duration_seconds", "Duration of the last run, in seconds.", run.End.Sub(run.Start).Seconds())
	c.gauge("timestamp_seconds", "End of the last run, in seconds since the epoch.", seconds(run.End))
	return c
}

// gauge adds cairn_<command>_<name> with the value v.
func (c *command) gauge(name, help string, v float64) {
	c.vecs = append(c.vecs, c.s.vec(c.name+"_"+name, help, c.labels...))
	c.values = append(c.values, v)
}

// registry sets every gauge with the label values and returns the
// registry. The names and label counts are fixed in this file, so an
// error is a bug: it panics.
func (c *command) registry(values ...string) *prometheus.Registry {
	for i, v := range c.vecs {
		c.s.set(v, c.values[i], values...)
	}
	if c.s.err != nil {
		panic(fmt.Sprintf("metrics: %s figures: %v", c.name, c.s.err))
	}
	return c.s.reg
}

// WriteFile writes the metrics g gathers to path in the text format of
// node_exporter's textfile collector: to a temporary file in the same
// directory, renamed to path, so that a collector never reads a partial
// file.
func WriteFile(path string, g prometheus.Gatherer) error {
	if err := prometheus.WriteToTextfile(path, g); err != nil {
		return fmt.Errorf("write metrics file %s: %w", path, err)
	}
	return nil
}
