package backend_test

import (
	"log/slog"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/limiter"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/backend/logger"
	"github.com/cairn-backup/cairn/internal/backend/retry"
	"github.com/cairn-backup/cairn/internal/cache"
)

// TestCapabilitiesThroughStack checks that backend.As finds every
// capability through the decorators the commands stack up: logger,
// limiter, retry and cache, in that order from the bottom.
func TestCapabilitiesThroughStack(t *testing.T) {
	lb, err := local.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(t.TempDir(), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var be backend.Backend = logger.New(lb, slog.New(slog.DiscardHandler))
	be = limiter.New(be, 1<<20, 1<<20)
	if _, ok := be.(backend.Unwrapper); !ok {
		t.Fatal("limiter.New with limits did not decorate")
	}
	be = retry.New(be, retry.Options{})
	be = c.Wrap(be)

	if s, ok := backend.As[backend.TempSweeper](be); !ok {
		t.Error("As[TempSweeper] did not find the local backend")
	} else if s != backend.TempSweeper(lb) {
		t.Errorf("As[TempSweeper] = %T, want the local backend", s)
	}
	if _, ok := backend.As[backend.FileMover](be); !ok {
		t.Error("As[FileMover] did not find the local backend")
	}
	if cb, ok := backend.As[backend.Cacher](be); !ok {
		t.Error("As[Cacher] did not find the cache")
	} else if _, isCache := cb.(*cache.Backend); !isCache {
		t.Errorf("As[Cacher] = %T, want *cache.Backend", cb)
	}
	// Without a cache nothing claims to be one.
	if _, ok := backend.As[backend.Cacher](retry.New(lb, retry.Options{})); ok {
		t.Error("As[Cacher] found a cache in a stack without one")
	}
}
