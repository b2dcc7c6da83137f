package main

import (
	"path/filepath"
	"time"

	"github.com/cairn-backup/cairn/internal/cache"
	"github.com/cairn-backup/cairn/internal/metrics"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

// metricsFlag is --metrics-file of backup, forget, prune and check.
type metricsFlag struct {
	path string
}

func (m *metricsFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.path, "metrics-file", "", "write Prometheus metrics of this run to `file`, replacing it (node_exporter's textfile format)")
}

// wrap adds the flag to cmd and makes its RunE write the figures of each
// run, as run does.
func (m *metricsFlag) wrap(cmd *cobra.Command, g *globalOptions, figures func(metrics.Run) *prometheus.Registry) {
	m.add(cmd)
	runE := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return m.run(g, func() error { return runE(c, args) }, figures)
	}
}

// run runs fn and, with --metrics-file, writes the figures of the run
// (successful or not) that figures returns. It returns fn's error: a
// metrics file that cannot be written is a warning only.
func (m *metricsFlag) run(g *globalOptions, fn func() error, figures func(metrics.Run) *prometheus.Registry) error {
	r := metrics.Run{Start: time.Now()}
	r.Err = fn()
	r.End = time.Now()
	if m.path != "" {
		if err := metrics.WriteFile(m.path, figures(r)); err != nil {
			g.warnf("%v", err)
		}
	}
	return r.Err
}

// backupFigures are the labels and summary of a backup for its metrics;
// the zero value, for a backup that failed before it had a snapshot,
// takes them from the options.
type backupFigures struct {
	sn *snapshot.Snapshot
}

// record keeps the snapshot a backup wrote (or would have written).
func (f *backupFigures) record(sn *snapshot.Snapshot) {
	if f != nil {
		f.sn = sn
	}
}

// registry returns the backup's figures for run.
func (f *backupFigures) registry(run metrics.Run, o backupOptions, args []string) *prometheus.Registry {
	if f.sn != nil {
		return metrics.Backup(run, f.sn.Hostname, f.sn.Paths, f.sn.Summary)
	}
	paths := []string{"/" + o.StdinFilename}
	if !o.Stdin && !o.StdinFromCommand {
		paths = make([]string, len(args))
		for i, a := range args {
			if abs, err := filepath.Abs(a); err == nil {
				a = abs
			}
			paths[i] = a
		}
	}
	return metrics.Backup(run, backupHost(o.Host), paths, nil)
}

// forgetFigures counts what forget removed and kept: the policy's keep
// lists (none when snapshots are named by ID); nothing is removed in a
// dry run.
func forgetFigures(remove int, groups []forgetGroupJSON, dryRun bool) metrics.ForgetFigures {
	var f metrics.ForgetFigures
	if !dryRun {
		f.Removed = remove
	}
	for _, gr := range groups {
		f.Kept += len(gr.Keep)
	}
	return f
}

// pruneFigures are the metrics figures of a prune's summary; nil when
// there is none (a failed prune, or prune --finish).
func pruneFigures(s *pruneSummaryJSON) *metrics.PruneFigures {
	if s == nil {
		return nil
	}
	return &metrics.PruneFigures{
		PacksRemoved: s.RemovedPacks, PacksCondemned: s.CondemnedPacks, PacksNew: s.NewPacks,
		BlobsRepacked: s.RepackedBlobs, BytesFreed: s.BytesRemove + s.BytesRepackRemoved,
		BytesRemaining: s.BytesRemaining, BytesUnusedAfter: s.BytesUnusedAfter,
	}
}

// checkFinished records the outcome of a check of repo: errors found,
// read-data or not, and err, the error check ends with. Unless keep is
// false (--no-cache given), it is saved in the repository's cache
// directory for metrics; report, when not nil, gets it for
// --metrics-file.
func (g *globalOptions) checkFinished(repo *repository.Repository, keep bool, errors int, readData bool, err error, report func(metrics.CheckResult)) {
	r := metrics.CheckResult{Time: time.Now(), Errors: errors, Success: err == nil, ReadData: readData}
	if report != nil {
		report(r)
	}
	if keep {
		g.saveCheckResult(repo, r)
	}
}

// checkResultDir is the directory check keeps its last result in (see
// metrics.SaveCheckResult): the repository's cache directory,
// <cache base>/<repository ID>, as restic lays the cache out; "" when no
// cache base can be found. It does not look at --no-cache: reading the
// result is not using the cache.
func (g *globalOptions) checkResultDir(repo *repository.Repository) string {
	base, err := g.cacheBase()
	if err != nil || base == "" {
		return ""
	}
	return filepath.Join(base, repo.Config().ID)
}

// saveCheckResult saves r in checkResultDir, setting the cache directory
// up first if it is not there yet (check runs without the cache by
// default, so it may be the first to need it). A failure is a warning.
func (g *globalOptions) saveCheckResult(repo *repository.Repository, r metrics.CheckResult) {
	dir := g.checkResultDir(repo)
	if dir == "" {
		return
	}
	if _, err := cache.Open(filepath.Dir(dir), repo.Config().ID, cache.Options{}); err != nil {
		g.warnf("keep the check result: %v", err)
		return
	}
	if err := metrics.SaveCheckResult(dir, r); err != nil {
		g.warnf("%v", err)
	}
}
