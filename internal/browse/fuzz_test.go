package browse

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/snapshot"
)

// FuzzLayout: any path template the user gives either is refused or
// places a snapshot (whatever its host, user and tags) only at names that
// are one path component each: never empty, ".", ".." or with a slash,
// so that a mount can never show a name outside its directory.
func FuzzLayout(f *testing.F) {
	f.Add("hosts/%h/%T", "web1", "daily,a/b", "2006-01-02")
	f.Add("tags/%t/%i", "", "..", "")
	f.Add("%u/%%/%x", ".", "/", "15:04")
	f.Fuzz(func(t *testing.T, tmpl, host, tags, timeFmt string) {
		if checkTemplates([]string{tmpl}) != nil {
			return
		}
		root := id.Hash([]byte("tree"))
		sn := &snapshot.Snapshot{ID: id.Hash([]byte(tmpl)), Hostname: host, Username: host, Tree: &root,
			Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
		if tags != "" {
			sn.Tags = strings.Split(tags, ",")
		}
		for _, parts := range expand(tmpl, sn, timeFmt) {
			for _, c := range parts {
				if c == "" || c == "." || c == ".." || strings.Contains(c, "/") {
					t.Fatalf("template %q placed a snapshot at component %q", tmpl, c)
				}
			}
		}
		d := buildLayout([]*snapshot.Snapshot{sn}, []string{tmpl}, timeFmt)
		var walk func(d *Dir)
		walk = func(d *Dir) {
			for _, e := range d.Entries {
				if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") {
					t.Fatalf("layout entry %q", e.Name)
				}
				if e.Dir != nil {
					walk(e.Dir)
				}
			}
		}
		walk(d)
	})
}
