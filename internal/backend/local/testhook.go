package local

import (
	"context"
	"os"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// pauseEnv is a hook for tests only (cmd/cairn leaks_test.go): with
// CAIRN_TEST_PAUSE_BEFORE_RENAME=<type> (such as "locks"), Save of a file
// of that type waits up to a minute between writing its temporary file
// and renaming it into place, so that a test can kill the process at that
// moment. Not for use outside tests.
const pauseEnv = "CAIRN_TEST_PAUSE_BEFORE_RENAME"

func testPauseBeforeRename(ctx context.Context, h backend.Handle) {
	if v := os.Getenv(pauseEnv); v == "" || v != h.Type.String() {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
}
