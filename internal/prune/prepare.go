package prune

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// Logger receives one line about each phase of a prune; nil is silent.
type Logger func(format string, args ...any)

func (l Logger) printf(format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}

// TempFileAge is how old a temporary file must be before prune deletes it.
const TempFileAge = time.Hour

// Prepared is a plan together with what carrying it out needs.
type Prepared struct {
	*Plan
	// IndexFiles are the index files the plan was made from; a rewrite
	// replaces them.
	IndexFiles []id.ID
	// TempFiles are stale temporary files to delete (backend.TempSweeper).
	TempFiles []string
}

// Prepare loads the index and the snapshots (except those in ignore,
// which forget is removing), finds the blobs still in use and makes a
// plan. It changes nothing. The repository should be locked exclusively.
func Prepare(ctx context.Context, repo *repository.Repository, o Options, ignore id.Set, log Logger) (*Prepared, error) {
	log.printf("loading indexes...")
	idx, err := repo.LoadPruneIndex(ctx)
	if err != nil {
		return nil, err
	}
	log.printf("loading all snapshots...")
	snaps, err := snapshot.LoadAll(ctx, repo)
	if err != nil {
		return nil, err
	}
	var roots []id.ID
	for _, s := range snaps {
		if !ignore.Has(s.ID) {
			roots = append(roots, *s.Tree)
		}
	}
	log.printf("finding data that is still in use for %d snapshots", len(roots))
	used, err := FindUsed(ctx, repo, roots)
	if err != nil {
		return nil, fmt.Errorf("find used blobs: %w", err)
	}
	log.printf("searching used packs...")
	stored := make(map[id.ID]int64)
	err = repo.ListFiles(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		if pid, err := id.Parse(fi.Name); err == nil {
			stored[pid] = fi.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	log.printf("collecting packs for deletion and repacking")
	plan, err := Decide(Input{Packs: idx.Packs, Stored: stored, Used: used, RepoVersion: repo.Config().Version}, o)
	if err != nil {
		return nil, err
	}
	temps, err := repo.StaleTempFiles(ctx, TempFileAge)
	if err != nil {
		return nil, err
	}
	return &Prepared{Plan: plan, IndexFiles: idx.Files, TempFiles: temps}, nil
}
