package rclone_test

import (
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend/rclone"
)

// FuzzConfig: locations and rclone.args from users never panic the
// parsers; an accepted location keeps its remote and an accepted args
// string without quotes or escapes splits at spaces, tabs and newlines
// only (as a shell does), leaving every other byte as it was.
func FuzzConfig(f *testing.F) {
	f.Add("rclone:b2:bucket/repo", `serve restic --stdio "a b" 'c' d\ e`)
	f.Add("rclone:", `"`)
	f.Fuzz(func(t *testing.T, loc, args string) {
		if cfg, err := rclone.ParseConfig(loc); err == nil && "rclone:"+cfg.Remote != loc {
			t.Fatalf("ParseConfig(%q) lost the remote: %q", loc, cfg.Remote)
		}
		words, err := rclone.SplitArgs(args)
		if err != nil {
			return
		}
		if !strings.ContainsAny(args, `"'\`) {
			want := strings.FieldsFunc(args, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
			if strings.Join(words, "\x00") != strings.Join(want, "\x00") {
				t.Fatalf("SplitArgs(%q) = %q, want %q", args, words, want)
			}
		}
	})
}
