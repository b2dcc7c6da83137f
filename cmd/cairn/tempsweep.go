package main

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
)

// sweepScope says which temporary files sweepTempFiles removes.
type sweepScope uint8

const (
	// sweepStale: those of processes of this host that are gone, and
	// those older than prune.TempFileAge (unlock).
	sweepStale sweepScope = iota
	// sweepDead: those of processes of this host that are gone; the cheap
	// sweep at the start of commands that write.
	sweepDead
	// sweepDeadLocks: sweepDead's in locks/ only, what a process killed
	// while taking its lock leaves; every command that locks does it,
	// dry runs included (they write their lock too).
	sweepDeadLocks
)

// sweepTempFiles removes the temporary files the backend left behind, as
// scope says. It returns how many it removed; a problem is a warning,
// never a failure of the command.
func (g *globalOptions) sweepTempFiles(ctx context.Context, repo *repository.Repository, scope sweepScope) int {
	var names []string
	var err error
	if scope == sweepStale {
		names, err = repo.StaleTempFiles(ctx, prune.TempFileAge)
	} else {
		names, err = repo.DeadTempFiles(ctx)
	}
	if scope == sweepDeadLocks {
		names = slices.DeleteFunc(names, func(n string) bool {
			return filepath.Dir(filepath.FromSlash(n)) != backend.LockFile.String()
		})
	}
	if err == nil && len(names) > 0 {
		err = repo.RemoveTempFiles(ctx, names)
	}
	if err != nil {
		if ctx.Err() == nil {
			g.warnf("remove temporary files of gone processes: %v", err)
		}
		return 0
	}
	return len(names)
}
