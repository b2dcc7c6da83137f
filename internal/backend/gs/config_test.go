package gs_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cairn-backup/cairn/internal/backend/gs"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		location string
		want     gs.Config
		wantErr  bool
	}{
		{location: "gs:bucket:/", want: gs.Config{Bucket: "bucket"}},
		{location: "gs:bucket:", want: gs.Config{Bucket: "bucket"}},
		{location: "gs:bucket:/repo", want: gs.Config{Bucket: "bucket", Prefix: "repo"}},
		{location: "gs:bucket:repo/", want: gs.Config{Bucket: "bucket", Prefix: "repo"}},
		{location: "gs:my-bucket:/a//b/./c/", want: gs.Config{Bucket: "my-bucket", Prefix: "a/b/c"}},
		{location: "gs:b:/with:colon", want: gs.Config{Bucket: "b", Prefix: "with:colon"}},

		{location: "gs:", wantErr: true},
		{location: "gs:bucket", wantErr: true},
		{location: "gs::/repo", wantErr: true},
		{location: "gs:a/b:/repo", wantErr: true},
		{location: "gs:bucket:/../x", wantErr: true},
		{location: "gs:bucket:/a\nb", wantErr: true},
		{location: "s3:bucket:/", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			got, err := gs.ParseConfig(tt.location)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseConfig(%q) = %+v, want error", tt.location, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q) = %v, want nil", tt.location, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(gs.Config{}, "Transport")); diff != "" {
				t.Errorf("ParseConfig(%q) mismatch (-want +got):\n%s", tt.location, diff)
			}
			if s := got.String(); s != "gs:"+tt.want.Bucket+":/"+tt.want.Prefix {
				t.Errorf("String() = %q", s)
			}
		})
	}
}

func TestSetOption(t *testing.T) {
	var c gs.Config
	for _, kv := range [][2]string{{"connections", "7"}, {"region", "europe-west3"}} {
		if err := c.SetOption(kv[0], kv[1]); err != nil {
			t.Fatalf("SetOption(%q, %q) = %v, want nil", kv[0], kv[1], err)
		}
	}
	if c.Connections != 7 || c.Region != "europe-west3" {
		t.Errorf("after SetOption: %+v", c)
	}
	for _, kv := range [][2]string{{"connections", "0"}, {"connections", "x"}, {"bucket-lookup", "path"}} {
		if err := c.SetOption(kv[0], kv[1]); err == nil {
			t.Errorf("SetOption(%q, %q) = nil, want error", kv[0], kv[1])
		}
	}
	if c.Connections != 7 {
		t.Errorf("a refused option changed Connections to %d", c.Connections)
	}
}
