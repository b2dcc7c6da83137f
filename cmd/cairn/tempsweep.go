package main

import (
	"context"

	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
)

// sweepTempFiles removes the temporary files the backend left behind:
// those of processes of this host that are gone and, unless deadOnly,
// those older than prune.TempFileAge. deadOnly is the cheap sweep at the
// start of a backup. It returns how many it removed; a problem is a
// warning, never a failure of the command.
func (g *globalOptions) sweepTempFiles(ctx context.Context, repo *repository.Repository, deadOnly bool) int {
	var names []string
	var err error
	if deadOnly {
		names, err = repo.DeadTempFiles(ctx)
	} else {
		names, err = repo.StaleTempFiles(ctx, prune.TempFileAge)
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
