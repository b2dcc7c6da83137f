package s3_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cairn-backup/cairn/internal/backend/s3"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		location string
		want     s3.Config
		wantErr  bool
	}{
		{location: "s3:http://127.0.0.1:9000/bucket",
			want: s3.Config{Endpoint: "127.0.0.1:9000", UseHTTP: true, Bucket: "bucket"}},
		{location: "s3:http://127.0.0.1:9000/bucket/",
			want: s3.Config{Endpoint: "127.0.0.1:9000", UseHTTP: true, Bucket: "bucket"}},
		{location: "s3:http://host:9000/bucket/some/prefix",
			want: s3.Config{Endpoint: "host:9000", UseHTTP: true, Bucket: "bucket", Prefix: "some/prefix"}},
		{location: "s3:https://host/bucket/prefix/",
			want: s3.Config{Endpoint: "host", Bucket: "bucket", Prefix: "prefix"}},
		{location: "s3:https://host:8443/bucket//a/./b//c",
			want: s3.Config{Endpoint: "host:8443", Bucket: "bucket", Prefix: "a/b/c"}},
		{location: "s3:host:9000/bucket/prefix",
			want: s3.Config{Endpoint: "host:9000", Bucket: "bucket", Prefix: "prefix"}},
		{location: "s3:s3.amazonaws.com/bucket",
			want: s3.Config{Endpoint: "s3.amazonaws.com", Bucket: "bucket"}},
		{location: "s3:s3.eu-west-1.amazonaws.com/bucket/repo/x",
			want: s3.Config{Endpoint: "s3.eu-west-1.amazonaws.com", Bucket: "bucket", Prefix: "repo/x"}},
		{location: "s3://host/bucket/prefix",
			want: s3.Config{Endpoint: "host", Bucket: "bucket", Prefix: "prefix"}},

		{location: "s3.amazonaws.com/bucket", wantErr: true},
		{location: "s3:", wantErr: true},
		{location: "s3:host", wantErr: true},
		{location: "s3:host/", wantErr: true},
		{location: "s3:/bucket", wantErr: true},
		{location: "s3:http://host", wantErr: true},
		{location: "s3:http://host/", wantErr: true},
		{location: "s3:https:///bucket", wantErr: true},
		{location: "s3:http://host:port/bucket", wantErr: true},
		{location: "s3:http://host/bucket?x=1", wantErr: true},
		{location: "s3:http://key:secret@host/bucket", wantErr: true},
		{location: "s3:host/bucket/../../x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			got, err := s3.ParseConfig(tt.location)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseConfig(%q) = %+v, want error", tt.location, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q) = %v, want nil", tt.location, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(s3.Config{}, "Transport")); diff != "" {
				t.Errorf("ParseConfig(%q) mismatch (-want +got):\n%s", tt.location, diff)
			}
		})
	}
}

func TestConfigString(t *testing.T) {
	for _, loc := range []string{
		"s3:http://host:9000/bucket/a/b",
		"s3:host/bucket",
		"s3:s3.amazonaws.com/bucket/prefix",
		"s3:http://host/bucket/a%2541%3Fq", // escapes stay escaped
	} {
		cfg, err := s3.ParseConfig(loc)
		if err != nil {
			t.Fatalf("ParseConfig(%q) = %v, want nil", loc, err)
		}
		if got := cfg.String(); got != loc {
			t.Errorf("ParseConfig(%q).String() = %q, want %q", loc, got, loc)
		}
	}
}

func TestParseConfigRejectsControlCharacters(t *testing.T) {
	for _, loc := range []string{"s3:http://0/%00", "s3:host/bucket/a\nb", "s3:https://h/b%7F"} {
		if _, err := s3.ParseConfig(loc); err == nil || !strings.Contains(err.Error(), "control character") {
			t.Errorf("ParseConfig(%q) = %v, want a control character error", loc, err)
		}
	}
}

func TestSetOption(t *testing.T) {
	tests := []struct {
		key, value string
		want       s3.Config
		wantErr    bool
	}{
		{key: "region", value: "eu-west-1", want: s3.Config{Region: "eu-west-1"}},
		{key: "bucket-lookup", value: "path", want: s3.Config{BucketLookup: "path"}},
		{key: "bucket-lookup", value: "dns", want: s3.Config{BucketLookup: "dns"}},
		{key: "bucket-lookup", value: "auto", want: s3.Config{BucketLookup: "auto"}},
		{key: "storage-class", value: "STANDARD_IA", want: s3.Config{StorageClass: "STANDARD_IA"}},
		{key: "connections", value: "12", want: s3.Config{Connections: 12}},

		{key: "bucket-lookup", value: "virtual", wantErr: true},
		{key: "connections", value: "0", wantErr: true},
		{key: "connections", value: "-3", wantErr: true},
		{key: "connections", value: "many", wantErr: true},
		{key: "s3.region", value: "x", wantErr: true},
		{key: "unknown", value: "x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			var cfg s3.Config
			err := cfg.SetOption(tt.key, tt.value)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("SetOption(%q, %q) = nil, want error", tt.key, tt.value)
				}
				if diff := cmp.Diff(s3.Config{}, cfg); diff != "" {
					t.Errorf("failed SetOption(%q, %q) changed the config (-want +got):\n%s", tt.key, tt.value, diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("SetOption(%q, %q) = %v, want nil", tt.key, tt.value, err)
			}
			if diff := cmp.Diff(tt.want, cfg); diff != "" {
				t.Errorf("SetOption(%q, %q) mismatch (-want +got):\n%s", tt.key, tt.value, diff)
			}
		})
	}
}
