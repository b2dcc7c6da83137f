package rewrite

import (
	"context"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/cairn-backup/cairn/internal/walker"
)

// Summarize returns the summary restic's rewrite --snapshot-summary
// records for a snapshot that has none: the number of files in the tree
// root and the sum of their sizes. Times and backup counters stay zero,
// as nothing is known about the backup run.
func Summarize(ctx context.Context, l walker.Loader, root id.ID) (*snapshot.Summary, error) {
	s := &snapshot.Summary{}
	err := walker.Walk(ctx, l, root, walker.Options{}, func(_ string, n *tree.Node, _ id.ID) error {
		if n.Type == tree.TypeFile {
			s.TotalFilesProcessed++
			s.TotalBytesProcessed += n.Size
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
