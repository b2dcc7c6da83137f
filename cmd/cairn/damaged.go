package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// warnDamaged is the snapshot.DamagedFunc of the commands that go on
// without a snapshot file that cannot be read or decoded: one line on w,
// worded as restic 0.19.1's, for example
//
//	Ignoring "29ab3a33…": load snapshot 29ab3a33: invalid data: …
//
// The exit code stays what it would be without that snapshot, as restic's.
// prune and check pass nil instead: they must know every snapshot.
func warnDamaged(w io.Writer) snapshot.DamagedFunc {
	return func(fid id.ID, err error) {
		fmt.Fprintf(w, "Ignoring %q: %v\n", fid.String(), err)
	}
}

// damagedHint adds to prune's error about a damaged snapshot why prune
// stops (the blobs that snapshot uses are unknown, so none may go) and the
// way on; other errors are returned as they are.
func damagedHint(err error) error {
	var de *snapshot.DamagedError
	if !errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("%w (prune must read every snapshot to know which data is used; `cairn forget %s` removes this one)", err, de.ID.Str())
}

// removeDamagedSnapshots removes the snapshot files of errs (each a
// *snapshot.DamagedError), unread, saying so on w, one line each; in a
// dry run it only says what it would remove.
func removeDamagedSnapshots(ctx context.Context, repo *repository.Repository, w io.Writer, errs []error, dryRun bool) error {
	for _, err := range errs {
		var de *snapshot.DamagedError
		if !errors.As(err, &de) {
			return err
		}
		if dryRun {
			fmt.Fprintf(w, "would remove damaged snapshot %v: %v\n", de.ID.Str(), err)
			continue
		}
		if rerr := repo.RemoveSnapshot(ctx, de.ID); rerr != nil {
			return fmt.Errorf("remove damaged snapshot %v: %w", de.ID.Str(), rerr)
		}
		fmt.Fprintf(w, "removed damaged snapshot %v: %v\n", de.ID.Str(), err)
	}
	return nil
}
