package azure_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cairn-backup/cairn/internal/backend/azure"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		location string
		want     azure.Config
		wantErr  bool
	}{
		{location: "azure:foo:/", want: azure.Config{Container: "foo"}},
		{location: "azure:foo:", want: azure.Config{Container: "foo"}},
		{location: "azure:foo:/repo", want: azure.Config{Container: "foo", Prefix: "repo"}},
		{location: "azure:foo:repo/x/", want: azure.Config{Container: "foo", Prefix: "repo/x"}},
		{location: "azure:foo://a/./b//c", want: azure.Config{Container: "foo", Prefix: "a/b/c"}},

		{location: "azure:foo", wantErr: true},
		{location: "azure::/x", wantErr: true},
		{location: "azure:", wantErr: true},
		{location: "foo:/x", wantErr: true},
		{location: "azure:a/b:/x", wantErr: true},
		{location: "azure:foo:/../x", wantErr: true},
		{location: "azure:foo:/a\nb", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			got, err := azure.ParseConfig(tt.location)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseConfig(%q) = %+v, want error", tt.location, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q) = %v, want nil", tt.location, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(azure.Config{}, "Transport")); diff != "" {
				t.Errorf("ParseConfig(%q) mismatch (-want +got):\n%s", tt.location, diff)
			}
		})
	}
}

func TestConfigString(t *testing.T) {
	for loc, want := range map[string]string{
		"azure:foo:/":       "azure:foo:/",
		"azure:foo:":        "azure:foo:/",
		"azure:foo:/a/b":    "azure:foo:/a/b",
		"azure:foo:a/b/../": "", // an error, see below
	} {
		cfg, err := azure.ParseConfig(loc)
		if want == "" {
			if err == nil {
				t.Errorf("ParseConfig(%q) = nil error, want one", loc)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseConfig(%q) = %v", loc, err)
		}
		cfg.AccountKey, cfg.AccountSAS = "secret-key", "sig=secret"
		if got := cfg.String(); got != want {
			t.Errorf("ParseConfig(%q).String() = %q, want %q", loc, got, want)
		}
	}
}

func TestApplyEnvironment(t *testing.T) {
	env := map[string]string{
		"AZURE_ACCOUNT_NAME":    "acct",
		"AZURE_ACCOUNT_KEY":     "a2V5",
		"AZURE_ACCOUNT_SAS":     "?sv=1&sig=x",
		"AZURE_ENDPOINT_SUFFIX": "core.chinacloudapi.cn",
	}
	cfg := azure.Config{Container: "c", AccountName: "given"}
	cfg.ApplyEnvironment(func(k string) string { return env[k] })
	want := azure.Config{Container: "c", AccountName: "given", AccountKey: "a2V5", AccountSAS: "?sv=1&sig=x", EndpointSuffix: "core.chinacloudapi.cn"}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("ApplyEnvironment mismatch (-want +got):\n%s", diff)
	}
}

func TestSetOption(t *testing.T) {
	tests := []struct {
		key, value string
		want       azure.Config
		wantErr    bool
	}{
		{key: "connections", value: "12", want: azure.Config{Connections: 12}},
		{key: "endpoint", value: "http://127.0.0.1:10000/devstoreaccount1/", want: azure.Config{Endpoint: "http://127.0.0.1:10000/devstoreaccount1"}},
		{key: "endpoint", value: "https://acct.blob.core.windows.net", want: azure.Config{Endpoint: "https://acct.blob.core.windows.net"}},
		{key: "access-tier", value: "cool", want: azure.Config{AccessTier: "Cool"}},
		{key: "access-tier", value: "Hot", want: azure.Config{AccessTier: "Hot"}},
		{key: "access-tier", value: "", want: azure.Config{}},

		{key: "connections", value: "0", wantErr: true},
		{key: "connections", value: "many", wantErr: true},
		{key: "endpoint", value: "127.0.0.1:10000", wantErr: true},
		{key: "endpoint", value: "ftp://host/", wantErr: true},
		{key: "endpoint", value: "https://host/?sig=x", wantErr: true},
		{key: "access-tier", value: "Archive", wantErr: true},
		{key: "azure.connections", value: "1", wantErr: true},
		{key: "unknown", value: "x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			var cfg azure.Config
			err := cfg.SetOption(tt.key, tt.value)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("SetOption(%q, %q) = nil, want error", tt.key, tt.value)
				}
				if !strings.Contains(err.Error(), "azure.") {
					t.Errorf("SetOption(%q, %q) = %v, want the option named", tt.key, tt.value, err)
				}
				if diff := cmp.Diff(azure.Config{}, cfg); diff != "" {
					t.Errorf("failed SetOption changed the config (-want +got):\n%s", diff)
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
