package location

import (
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend/azure"
	"github.com/cairn-backup/cairn/internal/backend/gs"
	"github.com/cairn-backup/cairn/internal/backend/rclone"
	"github.com/cairn-backup/cairn/internal/backend/rest"
	"github.com/cairn-backup/cairn/internal/backend/s3"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
)

// TestExtendedOptionsAreAccepted: every option `cairn options` lists is
// one its backend's SetOption knows (a sample value may be refused, the
// key may not), and a key it does not list is unknown.
func TestExtendedOptionsAreAccepted(t *testing.T) {
	set := map[string]func(k, v string) error{
		"rclone": func(k, v string) error { var c rclone.Config; return c.SetOption(k, v) },
		"rest":   func(k, v string) error { var c rest.Config; return c.SetOption(k, v) },
		"s3":     func(k, v string) error { var c s3.Config; return c.SetOption(k, v) },
		"sftp":   func(k, v string) error { var c sftp.Config; return c.SetOption(k, v) },
		"azure":  func(k, v string) error { var c azure.Config; return c.SetOption(k, v) },
		"gs":     func(k, v string) error { var c gs.Config; return c.SetOption(k, v) },
	}
	opts := ExtendedOptions()
	if len(opts) < 8 {
		t.Fatalf("ExtendedOptions() = %v, want every backend's options", opts)
	}
	for _, o := range opts {
		scheme, key, _ := strings.Cut(o.Name, ".")
		if o.Help == "" {
			t.Errorf("%s has no help", o.Name)
		}
		if err := set[scheme](key, "1"); err != nil && strings.Contains(err.Error(), "unknown option") {
			t.Errorf("%s is listed but %s's SetOption does not know it: %v", o.Name, scheme, err)
		}
	}
	for scheme, f := range set {
		if err := f("no-such-option", "1"); err == nil || !strings.Contains(err.Error(), "unknown option") {
			t.Errorf("%s.no-such-option: %v, want unknown option", scheme, err)
		}
	}
}
