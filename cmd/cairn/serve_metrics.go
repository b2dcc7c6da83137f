package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/internal/browse"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/metrics"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsMaxAge is how long serve's /metrics reuses its figures while the
// snapshots stay the same: counting raw data walks every snapshot's trees.
const metricsMaxAge = time.Minute

// metricsHandler answers serve's /metrics with metrics.Repository's
// figures for the view's snapshots and the last check's result, computed
// again when the snapshots change or the figures are a minute old (so the
// ages of the newest snapshots may be up to a minute stale).
func (g *globalOptions) metricsHandler(repo *repository.Repository, view *browse.View) http.Handler {
	var (
		mu    sync.Mutex
		reg   *prometheus.Registry
		made  time.Time
		snaps []id.ID
	)
	h := func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		all, err := view.Snapshots(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ids := make([]id.ID, len(all))
		for i, sn := range all {
			ids[i] = sn.ID
		}
		mu.Lock()
		defer mu.Unlock()
		if reg == nil || time.Since(made) > metricsMaxAge || !slices.Equal(ids, snaps) {
			next, err := g.repositoryMetrics(ctx, repo, all)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			reg, made, snaps = next, time.Now(), ids
		}
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	}
	return http.HandlerFunc(h)
}

// repositoryMetrics gathers metrics.Repository's figures.
func (g *globalOptions) repositoryMetrics(ctx context.Context, repo *repository.Repository, snaps []*snapshot.Snapshot) (*prometheus.Registry, error) {
	var last *metrics.CheckResult
	if dir := g.checkResultDir(repo); dir != "" {
		r, err := metrics.LoadCheckResult(dir)
		if err != nil {
			g.warnf("%v", err)
		}
		last = r
	}
	reg, err := metrics.Repository(ctx, repo, snaps, last, time.Now())
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return reg, nil
}
