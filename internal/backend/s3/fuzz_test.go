package s3_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cairn-backup/cairn/internal/backend/s3"
)

// FuzzParseConfig checks that ParseConfig never panics, that what it
// accepts names a bucket and a clean prefix, and that String round-trips.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"s3:s3.amazonaws.com/bucket", "s3:https://h:9000/b/p/q", "s3:http://[::1]:80/b", "s3:h/b/../x", "s3://h/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, location string) {
		cfg, err := s3.ParseConfig(location)
		if err != nil {
			return
		}
		if cfg.Bucket == "" || strings.Contains(cfg.Bucket, "/") {
			t.Fatalf("ParseConfig(%q).Bucket = %q", location, cfg.Bucket)
		}
		if strings.HasPrefix(cfg.Prefix, "/") || strings.HasSuffix(cfg.Prefix, "/") || strings.Contains("/"+cfg.Prefix+"/", "/../") {
			t.Fatalf("ParseConfig(%q).Prefix = %q is not clean", location, cfg.Prefix)
		}
		back, err := s3.ParseConfig(cfg.String())
		if err != nil {
			t.Fatalf("ParseConfig(%q) = %+v, but ParseConfig(%q) = %v", location, cfg, cfg.String(), err)
		}
		if diff := cmp.Diff(cfg, back, cmpopts.IgnoreFields(s3.Config{}, "Transport")); diff != "" {
			t.Fatalf("ParseConfig(%q).String() = %q does not round-trip (-want +got):\n%s", location, cfg.String(), diff)
		}
	})
}
