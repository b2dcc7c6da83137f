package sftp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		line    string
		want    []string
		wantErr bool
	}{
		{line: "ssh host -s sftp", want: []string{"ssh", "host", "-s", "sftp"}},
		{line: "  ssh\t-p 22  host ", want: []string{"ssh", "-p", "22", "host"}},
		{line: `ssh -i '/my keys/id' host`, want: []string{"ssh", "-i", "/my keys/id", "host"}},
		{line: `ssh -o "ProxyCommand=nc %h %p" host`, want: []string{"ssh", "-o", "ProxyCommand=nc %h %p", "host"}},
		{line: `a "b\"c\\d\e" 'x\y'`, want: []string{"a", `b"c\d\e`, `x\y`}},
		{line: `a\ b c`, want: []string{"a b", "c"}},
		{line: `a'b'"c" ''`, want: []string{"abc", ""}},
		{line: "", wantErr: true},
		{line: "   ", wantErr: true},
		{line: "ssh 'host", wantErr: true},
		{line: `ssh "host`, wantErr: true},
		{line: `ssh host\`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.line)
		if tt.wantErr {
			if err == nil {
				t.Errorf("splitCommand(%q) = %q, nil, want error", tt.line, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("splitCommand(%q) = %v, want nil", tt.line, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitCommand(%q) mismatch (-want +got):\n%s", tt.line, diff)
		}
	}
}
