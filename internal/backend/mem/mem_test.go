package mem_test

import (
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/backendtest"
	"github.com/cairn-backup/cairn/internal/backend/mem"
)

func TestBackend(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backend.Backend { return mem.New() })
}

func BenchmarkBackend(b *testing.B) {
	backendtest.Bench(b, func(*testing.B) backend.Backend { return mem.New() })
}
