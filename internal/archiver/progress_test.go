package archiver_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/internal/archiver"
	"github.com/cairn-backup/cairn/internal/ui"
)

// events records what a backup reports.
type events struct {
	mu     sync.Mutex
	events []ui.Event // guarded by mu
}

func (e *events) Status(ui.Status)   {}
func (e *events) Problem(ui.Problem) {}
func (e *events) Event(ev ui.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
}

// TestProgress: the scanner finds the totals beside the backup, the
// counters end at them, and the verbose events name the snapshot paths
// (a relative target sits at the root) with restic's actions.
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	fs := newTestFS(t, src, 3)
	fs.file("a.bin", fs.random(3<<20))
	fs.file("sub/b.txt", []byte("bee"))
	t.Chdir(dir)

	r := newRepo(t)
	rec := &events{}
	p := ui.NewProgress(rec, 0, true)
	run(t, r, archiver.Options{Progress: p}, []string{"src"}, nil)
	p.Finish()
	s := p.Snapshot()
	if !s.ScanDone || s.TotalFiles != 2 || s.Files != 2 || s.TotalBytes != 3<<20+3 || s.Bytes != s.TotalBytes || len(s.Current) != 0 {
		t.Errorf("final status %+v, want 2 files and %d bytes found and done, nothing current", s, 3<<20+3)
	}
	var got []string
	for _, e := range rec.events {
		if e.Action == "scan_finished" {
			if e.TotalFiles != 2 || e.Size != 3<<20+3 {
				t.Errorf("scan_finished %+v", e)
			}
			continue
		}
		got = append(got, e.Action+" "+e.Item)
		if e.Item == "/src/a.bin" && (e.DataAdded != 3<<20 || e.DataAddedPacked < e.DataAdded || e.Size != 3<<20) {
			t.Errorf("event for a.bin %+v: want 3 MiB added and stored, no less", e)
		}
		if e.Item == "/src/" && e.MetadataAdded == 0 {
			t.Errorf("event for the new directory %+v: no metadata", e)
		}
	}
	slices.Sort(got)
	if want := []string{"new /src/", "new /src/a.bin", "new /src/sub/", "new /src/sub/b.txt"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}

	// A second run with a changed file: unchanged and modified.
	root, _ := run(t, r, archiver.Options{}, []string{"src"}, nil)
	flush(t, r)
	if err := os.WriteFile(filepath.Join(src, "sub/b.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec = &events{}
	p = ui.NewProgress(rec, 0, true)
	run(t, r, archiver.Options{Progress: p, NoScan: true}, []string{"src"}, &root)
	p.Finish()
	got = nil
	for _, e := range rec.events {
		got = append(got, e.Action+" "+e.Item)
	}
	slices.Sort(got)
	if want := []string{"modified /src/", "modified /src/sub/", "modified /src/sub/b.txt", "unchanged /src/a.bin"}; !slices.Equal(got, want) {
		t.Errorf("second run: events %q, want %q (and no scan_finished with --no-scan)", got, want)
	}
	if s := p.Snapshot(); s.TotalFiles != 0 || s.Files != 2 {
		t.Errorf("--no-scan status %+v: want no totals, 2 files done", s)
	}
}

// TestRunDotAndAbsolute: an absolute target given beside "." is backed up
// too, at the root beside the working directory's entries.
func TestRunDotAndAbsolute(t *testing.T) {
	dir := t.TempDir()
	fs := newTestFS(t, filepath.Join(dir, "cwd"), 4)
	fs.file("here.txt", []byte("here"))
	other := filepath.Join(dir, "elsewhere")
	ofs := newTestFS(t, other, 5)
	ofs.file("there.txt", []byte("there"))
	t.Chdir(filepath.Join(dir, "cwd"))
	r := newRepo(t)
	root, sum := run(t, r, archiver.Options{}, []string{".", other}, nil)
	flush(t, r)
	top := names(loadTree(t, r, root))
	first := strings.Split(strings.TrimPrefix(other, "/"), "/")[0]
	if !slices.Contains(top, "here.txt") || !slices.Contains(top, first) || sum.FilesNew != 2 {
		t.Errorf("root tree %q with %d new files; want here.txt, %s and 2 files", top, sum.FilesNew, first)
	}
}
