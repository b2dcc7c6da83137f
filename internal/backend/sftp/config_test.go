package sftp_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/backend/sftp"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		location string
		want     sftp.Config
		wantErr  bool
	}{
		{location: "sftp:user@host:/srv/repo", want: sftp.Config{User: "user", Host: "host", Path: "/srv/repo"}},
		{location: "sftp:host:relative/path", want: sftp.Config{Host: "host", Path: "relative/path"}},
		{location: "sftp:user@host:path", want: sftp.Config{User: "user", Host: "host", Path: "path"}},
		{location: "sftp:user@host:/path/with@at:colon", want: sftp.Config{User: "user", Host: "host", Path: "/path/with@at:colon"}},
		{location: "sftp:user@example.com@host:repo", want: sftp.Config{User: "user@example.com", Host: "host", Path: "repo"}},
		{location: "sftp:host:repo/", want: sftp.Config{Host: "host", Path: "repo"}},
		{location: "sftp:[::1]:/repo", want: sftp.Config{Host: "::1", Path: "/repo"}},
		{location: "sftp:user@[fe80::1]:repo", want: sftp.Config{User: "user", Host: "fe80::1", Path: "repo"}},
		{location: "sftp://user@host:2222//srv/repo", want: sftp.Config{User: "user", Host: "host", Port: "2222", Path: "/srv/repo"}},
		{location: "sftp://user@host/relative", want: sftp.Config{User: "user", Host: "host", Path: "relative"}},
		{location: "sftp://host/dir/sub", want: sftp.Config{Host: "host", Path: "dir/sub"}},
		{location: "sftp://user@[::1]:22//repo", want: sftp.Config{User: "user", Host: "::1", Port: "22", Path: "/repo"}},
		{location: "sftp://[::1]/repo", want: sftp.Config{Host: "::1", Path: "repo"}},

		{location: "host:/repo", wantErr: true},
		{location: "rest:http://host/", wantErr: true},
		{location: "sftp:", wantErr: true},
		{location: "sftp:host", wantErr: true},
		{location: "sftp:host:", wantErr: true},
		{location: "sftp::/repo", wantErr: true},
		{location: "sftp:@host:/repo", wantErr: true},
		{location: "sftp:[::1/repo", wantErr: true},
		{location: "sftp:[::1]/repo", wantErr: true},
		{location: "sftp://host", wantErr: true},
		{location: "sftp://host/", wantErr: true},
		{location: "sftp:///repo", wantErr: true},
		{location: "sftp://user:secret@host/repo", wantErr: true},
		{location: "sftp://host:99999/repo", wantErr: true},
		{location: "sftp://host:x/repo", wantErr: true},
		{location: "sftp://host/repo?x=1", wantErr: true},
		{location: "sftp://::1/repo", wantErr: true},
		{location: "sftp:1:2:3:path", wantErr: false, want: sftp.Config{Host: "1", Path: "2:3:path"}},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			got, err := sftp.ParseConfig(tt.location)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseConfig(%q) = %+v, nil, want error", tt.location, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q) = %v, want nil", tt.location, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseConfig(%q) mismatch (-want +got):\n%s", tt.location, diff)
			}
		})
	}
}

// TestConfigString checks that String gives a location ParseConfig reads
// back to the same configuration.
func TestConfigString(t *testing.T) {
	for _, loc := range []string{
		"sftp:user@host:/srv/repo",
		"sftp:host:rel",
		"sftp:[::1]:/repo",
		"sftp://user@host:2222//srv/repo",
		"sftp://user@[::1]:2222/rel",
	} {
		cfg, err := sftp.ParseConfig(loc)
		if err != nil {
			t.Fatalf("ParseConfig(%q) = %v, want nil", loc, err)
		}
		back, err := sftp.ParseConfig(cfg.String())
		if err != nil {
			t.Fatalf("ParseConfig(%q) = %v, want nil", cfg.String(), err)
		}
		if diff := cmp.Diff(cfg, back); diff != "" {
			t.Errorf("ParseConfig(%q.String() = %q) mismatch (-want +got):\n%s", loc, cfg.String(), diff)
		}
	}
}

func TestSetOption(t *testing.T) {
	tests := []struct {
		key, value string
		want       sftp.Config
		wantErr    bool
	}{
		{key: "command", value: `ssh -p 2222 'user name'@host -s sftp`, want: sftp.Config{Command: `ssh -p 2222 'user name'@host -s sftp`}},
		{key: "command", value: "", wantErr: true},
		{key: "command", value: `ssh "host`, wantErr: true},
		{key: "key", value: "~/.ssh/backup", want: sftp.Config{KeyFile: "~/.ssh/backup"}},
		{key: "key", value: "", wantErr: true},
		{key: "known-hosts", value: "/etc/kh", want: sftp.Config{KnownHosts: "/etc/kh"}},
		{key: "known-hosts", value: "", wantErr: true},
		{key: "strict-host-key-checking", value: "yes", want: sftp.Config{HostKeyCheck: "yes"}},
		{key: "strict-host-key-checking", value: "accept-new", want: sftp.Config{HostKeyCheck: "accept-new"}},
		{key: "strict-host-key-checking", value: "no", want: sftp.Config{HostKeyCheck: "no"}},
		{key: "strict-host-key-checking", value: "ask", wantErr: true},
		{key: "connections", value: "8", want: sftp.Config{Connections: 8}},
		{key: "connections", value: "0", wantErr: true},
		{key: "connections", value: "many", wantErr: true},
		{key: "sftp.command", value: "ssh", wantErr: true},
		{key: "args", value: "-v", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			var cfg sftp.Config
			err := cfg.SetOption(tt.key, tt.value)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("SetOption(%q, %q) = nil (config %+v), want error", tt.key, tt.value, cfg)
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

// FuzzParseConfig checks that ParseConfig never panics and that every
// location it accepts survives a round trip through String.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"sftp:user@host:/srv", "sftp:[::1]:r", "sftp://u@h:2222//abs", "sftp://h/rel", "sftp:a@b@c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, location string) {
		cfg, err := sftp.ParseConfig(location)
		if err != nil {
			return
		}
		back, err := sftp.ParseConfig(cfg.String())
		if err != nil {
			t.Fatalf("ParseConfig(%q) = %+v, but ParseConfig(%q) = %v", location, cfg, cfg.String(), err)
		}
		if diff := cmp.Diff(cfg, back); diff != "" {
			t.Fatalf("ParseConfig(%q).String() = %q does not round-trip (-want +got):\n%s", location, cfg.String(), diff)
		}
	})
}
