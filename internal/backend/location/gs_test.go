package location_test

import (
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/gs"
	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestOpenGS: a gs: location with its options becomes a gs backend under
// the decorators; bad locations and options are permanent errors.
func TestOpenGS(t *testing.T) {
	if got := location.Scheme("gs:bucket:/repo"); got != "gs" {
		t.Errorf("Scheme(gs:bucket:/repo) = %q, want gs", got)
	}
	g := testservers.FakeGCS(t)
	for _, name := range []string{"GOOGLE_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS"} {
		t.Setenv(name, "")
	}
	t.Setenv("STORAGE_EMULATOR_HOST", g.Host)
	t.Setenv("GOOGLE_PROJECT_ID", "cairn-test")
	opts := location.Options{Extended: map[string]string{"gs.connections": "3", "s3.region": "ignored"}}
	be, err := location.Create(t.Context(), "gs:loc-bucket:/repo", opts)
	if err != nil {
		t.Fatalf("Create = %v, want nil", err)
	}
	defer func() { _ = be.Close() }()
	if _, ok := backend.As[*gs.Backend](be); !ok {
		t.Errorf("Create returned %T, want a gs backend under the decorators", be)
	}
	if got := be.Properties().Connections; got != 3 {
		t.Errorf("Connections = %d, want 3", got)
	}
	if _, err := location.Open(t.Context(), "gs:loc-bucket:/repo", opts); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Open of a path without a repository = %v, want ErrNotExist", err)
	}
	for _, bad := range []struct {
		loc string
		ext map[string]string
	}{
		{loc: "gs:bucket-without-path"},
		{loc: "gs:bucket:/repo", ext: map[string]string{"gs.connections": "0"}},
		{loc: "gs:bucket:/repo", ext: map[string]string{"gs.nope": "1"}},
	} {
		_, err := location.Open(t.Context(), bad.loc, location.Options{Extended: bad.ext})
		if err == nil || !backend.IsPermanent(err) || errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Open(%q, %v) = %v, want a permanent error", bad.loc, bad.ext, err)
		}
	}
}
