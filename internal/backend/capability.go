package backend

import (
	"context"
	"time"
)

// The interfaces in this file are capabilities: optional methods that
// layers above a backend find with [As], through any decorators. Each
// implementation asserts at compile time that it has them
// (var _ backend.Cacher = (*Backend)(nil)), so that renaming a method
// breaks the build instead of quietly disabling the feature.

// Cacher is implemented by caching decorators. Errors of its methods mean
// only that a file is not cached; callers go on without.
type Cacher interface {
	Backend
	// Warm makes sure a local copy of h (a tree pack, typically) is kept,
	// fetching it from the backend below if needed; later loads of h are
	// served locally.
	Warm(ctx context.Context, h Handle) error
	// Keep stores the bytes of rd, a file just saved as h (a pack of tree
	// blobs, say), as the local copy of h, without reading the backend.
	// rd may be rewound and read more than once.
	Keep(ctx context.Context, h Handle, rd RewindReader) error
	// ClearPacks removes cached packs for which keep is false (those the
	// index no longer knows), sparing young ones that another process may
	// be about to index.
	ClearPacks(keep func(name string) bool)
}

// TempSweeper is implemented by backends that write temporary files next
// to the repository's files (a save that was cut off by a crash leaves
// one behind), so that prune can remove stale ones.
type TempSweeper interface {
	Backend
	// StaleTempFiles lists the temporary files last changed more than
	// maxAge ago, and those whose writer the backend knows is gone. The
	// names are opaque, for RemoveTempFiles.
	StaleTempFiles(ctx context.Context, maxAge time.Duration) ([]string, error)
	// RemoveTempFiles deletes files StaleTempFiles reported; a file that is
	// already gone is no error.
	RemoveTempFiles(ctx context.Context, names []string) error
}

// DeadTempSweeper is a TempSweeper that can tell, cheaply enough for the
// start of every backup, which temporary files were left by processes of
// this host that are gone (killed in the middle of a write).
type DeadTempSweeper interface {
	TempSweeper
	// DeadTempFiles lists such files, for RemoveTempFiles. It may leave
	// out places that are expensive to look at.
	DeadTempFiles(ctx context.Context) ([]string, error)
}
