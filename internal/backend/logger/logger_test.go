package logger_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/backend/logger"
	"github.com/cairn-backup/cairn/internal/backend/mem"
)

func TestLogsOperations(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	be := logger.New(mem.New(), log)
	h := backend.Handle{Type: backend.SnapshotFile, Name: "abcd"}
	if err := be.Save(t.Context(), h, backend.NewByteReader([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.LoadAll(t.Context(), be, h); err != nil {
		t.Fatal(err)
	}
	missing := backend.Handle{Type: backend.IndexFile, Name: "ffff"}
	if _, err := be.Stat(t.Context(), missing); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat(missing) = %v", err)
	}
	out := buf.String()
	for _, want := range []string{
		`msg="backend save" handle=snapshots/abcd size=5 duration=`,
		`msg="backend load" handle=snapshots/abcd`,
		`msg="backend stat" handle=index/ffff`,
		`error=`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestNilLoggerAddsNothing(t *testing.T) {
	m := mem.New()
	if be := logger.New(m, nil); be != backend.Backend(m) {
		t.Errorf("New(be, nil) = %T, want be itself", be)
	}
}

func TestKeepsFileMover(t *testing.T) {
	lb, err := local.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	be := logger.New(lb, slog.New(slog.DiscardHandler))
	if _, ok := be.(backend.FileMover); !ok {
		t.Errorf("logged local backend is not a FileMover")
	}
	if _, ok := logger.New(mem.New(), slog.New(slog.DiscardHandler)).(backend.FileMover); ok {
		t.Errorf("logged mem backend claims to be a FileMover")
	}
}
