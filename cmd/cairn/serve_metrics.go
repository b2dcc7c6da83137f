package main

import (
	"net/http"

	"github.com/cairn-backup/cairn/internal/browse"
	"github.com/cairn-backup/cairn/internal/repository"
)

// metricsHandler answers serve's /metrics (filled in with the metrics
// package).
func (g *globalOptions) metricsHandler(repo *repository.Repository, view *browse.View) http.Handler {
	return nil
}
