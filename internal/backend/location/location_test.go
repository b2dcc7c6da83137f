package location_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/location"
	"github.com/cairn-backup/cairn/internal/testservers"
)

func TestScheme(t *testing.T) {
	tests := map[string]string{
		"/srv/repo":                  "local",
		"./repo":                     "local",
		"repo":                       "local",
		"local:/srv/repo":            "local",
		"dir:with:colons":            "local",
		"sftp:host:/srv/repo":        "sftp",
		"sftp://u@h:22//srv":         "sftp",
		"rest:http://h:8000/":        "rest",
		"s3:s3.amazonaws.com/bucket": "s3",
		"b2:bucket:path":             "b2",
	}
	for in, want := range tests {
		if got := location.Scheme(in); got != want {
			t.Errorf("Scheme(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseExtended(t *testing.T) {
	got, err := location.ParseExtended([]string{"sftp.command=ssh -p 2222 host -s sftp", "s3.region=eu-west-1", "rest.connections=8"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"sftp.command": "ssh -p 2222 host -s sftp", "s3.region": "eu-west-1", "rest.connections": "8"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseExtended (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"noequals", "=x", "nodot=1", "sftp.=1", "ftp.command=x"} {
		if _, err := location.ParseExtended([]string{bad}); err == nil {
			t.Errorf("ParseExtended(%q) = nil error, want one", bad)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	if _, err := location.Open(ctx, "b2:bucket:path", location.Options{}); err == nil || !strings.Contains(err.Error(), "not supported") ||
		!strings.Contains(err.Error(), "backblazeb2.com") || !backend.IsPermanent(err) {
		t.Errorf("Open(b2:) = %v, want a not-supported error naming the S3 endpoint", err)
	}
	if _, err := location.Create(ctx, "swift:container:/path", location.Options{}); err == nil || !strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("Create(swift:) = %v, want a not-supported error", err)
	}
	missing := filepath.Join(t.TempDir(), "nothing")
	if _, err := location.Open(ctx, missing, location.Options{}); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Open(missing dir) = %v, want ErrNotExist", err)
	}
	// An option of the location's own backend must be known; options of
	// other backends are ignored.
	_, err := location.Open(ctx, "rest:http://127.0.0.1:1/", location.Options{Extended: map[string]string{"rest.nosuch": "1"}})
	if err == nil || !strings.Contains(err.Error(), "rest.nosuch") {
		t.Errorf("Open with rest.nosuch = %v, want an unknown-option error", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = location.Open(ctx, "rest:https://127.0.0.1:1/", location.Options{CACerts: []string{ca}})
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("Open with a bad CA file = %v, want a clear error", err)
	}
}

// TestOpenStack: a remote backend comes wrapped in the retry decorator,
// and options of other backends do not disturb it.
func TestOpenStack(t *testing.T) {
	base := testservers.RestServer(t, "--no-auth")
	opts := location.Options{Extended: map[string]string{"sftp.command": "false", "rest.connections": "3"}}
	be, err := location.Create(t.Context(), "rest:"+base+"/r/", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = be.Close() }()
	if _, ok := be.(backend.Unwrapper); !ok {
		t.Errorf("Create returned %T, want the retry decorator", be)
	}
	if n := be.Properties().Connections; n != 3 {
		t.Errorf("Connections = %d, want 3 from rest.connections", n)
	}
	if _, err := location.Open(t.Context(), "rest:"+base+"/r/", opts); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Open before a config exists = %v, want ErrNotExist", err)
	}
}
