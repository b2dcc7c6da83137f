package main

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestGoldenBackup compares backup and restore --json with restic 0.19.1's
// recorded output: a first backup, one with -v (verbose_status), one with
// a source that cannot be read (error lines on stderr, exit 3), one with a
// missing path (skipped, exit 3), and restores plain, with -vv and of a
// subdirectory with --include.
func TestGoldenBackup(t *testing.T) {
	runGolden(t, []goldenCase{
		{name: "backup_first", emptyRepo: true, args: func(*goldenFixture) []string { return []string{"backup", "."} }},
		{name: "backup_verbose", args: func(*goldenFixture) []string { return []string{"backup", "-v", "."} }},
		{name: "backup_unreadable", stderr: true, code: 3, args: func(*goldenFixture) []string {
			// Opening another process's memory fails, for root too (or
			// reading it does): restic and cairn report it and go on.
			return []string{"backup", "docs", "/proc/1/mem"}
		}},
		{name: "backup_missing", code: 3, args: func(*goldenFixture) []string { return []string{"backup", ".", "missing"} }},
		{name: "backup_dry_run", args: func(*goldenFixture) []string { return []string{"backup", "--dry-run", "-v", "."} }},
		// Nothing on stdin: restic reports "no data read" and exits 3.
		{name: "backup_stdin_empty", stderr: true, code: 3, args: func(*goldenFixture) []string {
			return []string{"backup", "--stdin", "--stdin-filename", "in.txt"}
		}},
		{name: "backup_skip_if_unchanged", args: func(*goldenFixture) []string { return []string{"backup", "--skip-if-unchanged", "."} }},
		{name: "restore", args: func(f *goldenFixture) []string { return []string{"restore", "latest", "--target", f.target} }},
		{name: "restore_verbose", args: func(f *goldenFixture) []string {
			return []string{"restore", "-vv", "latest", "--target", f.target}
		}},
		{name: "restore_subdir_include", args: func(f *goldenFixture) []string {
			return []string{"restore", "latest:docs", "--include", "/a.txt", "--target", f.target}
		}},
	})
}

// numbers masks durations, sizes and IDs, which differ between tools and
// runs.
var numbers = regexp.MustCompile(`[0-9a-f]{8,}|[0-9]+(\.[0-9]+)?`)

// textFixture is a source tree with a file, a directory and a missing
// path, in a new repository made by cairn.
func textFixture(t *testing.T) (env []string, src string) {
	t.Helper()
	base := t.TempDir()
	src = filepath.Join(base, "src")
	noise := make([]byte, 5000) // incompressible, so that it stores KiB
	_, _ = rand.Read(noise)
	writeFile(t, src, "data/a", string(noise))
	writeFile(t, src, "data/sub/b", "b\n")
	env = repoEnv(filepath.Join(base, "repo"), "text")
	cairn(t, env, "init")
	return env, src
}

// TestBackupTextAsRestic checks backup's text output line by line against
// restic 0.19.1's (recorded here with the numbers masked): -vv shows the
// steps, one line per file and directory, the blob counts and the summary
// on stdout; the missing path and the closing warning go to stderr, and
// the exit status is 3.
func TestBackupTextAsRestic(t *testing.T) {
	t.Parallel()
	env, src := textFixture(t)
	res := runIn(t, src, env, cairnBin, "backup", "-vv", "data", "missing")
	if res.code != 3 {
		t.Fatalf("backup with a missing path: %v, want exit 3", res)
	}
	wantOut := []string{
		"open repository",
		"no parent snapshot found, will read all files",
		"load index files",
		"start scan on [data]",
		"start backup on [data]",
		"scan finished in #s: # files, # KiB",
		"new       /data/a, saved in #s (# KiB added, # KiB stored)",
		"new       /data/sub/b, saved in #s (# B added, # B stored)",
		"new       /data/sub/, saved in #s (# B added, # B stored, # B metadata)",
		"new       /data/, saved in #s (# B added, # B stored, # B metadata)",
		"",
		"Files:           # new,     # changed,     # unmodified",
		"Dirs:            # new,     # changed,     # unmodified",
		"Data Blobs:      # new",
		"Tree Blobs:      # new",
		"Added to the repository: # KiB (# KiB stored)",
		"",
		"processed # files, # KiB in #:#",
		"snapshot # saved",
	}
	got := strings.Split(strings.TrimSuffix(numbers.ReplaceAllString(res.stdout, "#"), "\n"), "\n")
	// The scan, files and directories finish in an order that varies.
	if len(got) == len(wantOut) {
		slices.Sort(got[5:10])
		slices.Sort(wantOut[5:10])
	}
	if !slices.Equal(got, wantOut) {
		t.Errorf("stdout:\n%s\nwant (numbers masked):\n%s", strings.Join(got, "\n"), strings.Join(wantOut, "\n"))
	}
	wantErr := "missing does not exist, skipping\nWarning: at least one source file could not be read\n"
	if res.stderr != wantErr {
		t.Errorf("stderr = %q, want %q", res.stderr, wantErr)
	}
	// Without -v: the parent line and the summary, no blob counts.
	res = runIn(t, src, env, cairnBin, "backup", "data")
	want := "using parent snapshot #\n\nFiles:           # new,     # changed,     # unmodified\n" +
		"Dirs:            # new,     # changed,     # unmodified\nAdded to the repository: # B   (# B   stored)\n\n" +
		"processed # files, # KiB in #:#\nsnapshot # saved\n"
	if got := numbers.ReplaceAllString(res.stdout, "#"); res.code != 0 || got != want {
		t.Errorf("unchanged backup: %v\nmasked stdout %q, want %q", res, got, want)
	}
	// Nothing exists: restic's fatal error, exit 1.
	res = runIn(t, src, env, cairnBin, "backup", "nope")
	if res.code != 1 || res.stderr != "nope does not exist, skipping\nFatal: all source directories/files do not exist\n" {
		t.Errorf("backup of a missing path only: %v", res)
	}
}

// TestRestoreTextAsRestic checks restore's text lines as restic 0.19.1
// prints them: the snapshot line, -vv's per-item lines and the summary.
func TestRestoreTextAsRestic(t *testing.T) {
	t.Parallel()
	env, src := textFixture(t)
	cairnIn(t, src, env, "backup", "data")
	target := filepath.Join(t.TempDir(), "target")
	out := cairn(t, env, "restore", "-vv", "latest", "--target", target)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		"restoring snapshot # of [#] at # by #@# to #",
		"restored  /data/a with size # KiB",
		"restored  /data/sub/b with size # B",
		"restored  /data/sub",
		"restored  /data",
		"Summary: Restored # files/dirs (# KiB) in #:#",
	}
	if len(lines) != len(want) {
		t.Fatalf("restore -vv printed:\n%s\nwant (numbers masked):\n%s", out, strings.Join(want, "\n"))
	}
	lines[0] = regexp.MustCompile(`^restoring snapshot \S+ of \[.*\] at .* by \S+@\S+ to .*$`).ReplaceAllString(lines[0], "restoring snapshot # of [#] at # by #@# to #")
	for i := range lines[1:] {
		lines[i+1] = numbers.ReplaceAllString(lines[i+1], "#")
	}
	slices.Sort(lines[1:3])
	if !slices.Equal(lines, want) {
		t.Errorf("restore -vv printed:\n%s\nwant (numbers masked):\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Again: everything is in place, so it is skipped.
	out = cairn(t, env, "restore", "latest", "--target", target)
	if got := numbers.ReplaceAllString(out[strings.Index(out, "\n")+1:], "#"); got != "Summary: Restored # files/dirs (# B) in #:#, skipped # files/dirs # KiB\n" {
		t.Errorf("second restore: %q", got)
	}
	// A changed file is updated, an extra one deleted (named by its path
	// on disk), the rest unchanged; --dry-run words its summary the same.
	writeFile(t, target, "data/sub/b", "changed\n")
	extra := writeFile(t, target, "data/extra", "x")
	out = cairn(t, env, "restore", "-vv", "--delete", "latest", "--target", target)
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:]
	slices.Sort(lines)
	want = []string{
		"Summary: Restored 3 files/dirs (2 B) in 0:00, skipped 1 files/dirs 4.883 KiB, deleted 1 files/dirs",
		"deleted   " + extra,
		"restored  /data",
		"restored  /data/sub",
		"unchanged /data/a with size 4.883 KiB",
		"updated   /data/sub/b with size 2 B",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("restore -vv --delete printed (sorted):\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	out = cairn(t, env, "restore", "--dry-run", "latest", "--target", t.TempDir())
	if !strings.Contains(out, "\nSummary: Restored 4 files/dirs (4.885 KiB) in 0:00\n") {
		t.Errorf("restore --dry-run printed:\n%s", out)
	}
}

// TestRestoreSubdirInclude: with SNAPSHOT:SUBDIR, --include patterns are
// matched below SUBDIR, as restic 0.19.1 does (the files it restored are
// recorded here; Debian's restic 0.14 has no SNAPSHOT:SUBDIR).
func TestRestoreSubdirInclude(t *testing.T) {
	t.Parallel()
	env, src := textFixture(t)
	writeFile(t, src, "data/sub/c", "c\n")
	cairnIn(t, src, env, "backup", "data")
	for _, tc := range []struct{ ref, include, want string }{
		{"latest:data/sub", "b", "b"},
		{"latest:data", "/sub/b", "sub/b"},
		{"latest:data/sub", "/c", "c"},
		{"latest:data", "/data/sub/b", ""}, // the snapshot's own path does not match below SUBDIR
	} {
		target := filepath.Join(t.TempDir(), "t")
		cairn(t, env, "restore", tc.ref, "--include", tc.include, "--target", target)
		if got := fileList(t, target); got != tc.want {
			t.Errorf("restore %s --include %s restored %q, want %q", tc.ref, tc.include, got, tc.want)
		}
	}
}

// fileList lists the regular files below dir, relative, one a line.
func fileList(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "\n")
}

// TestJSONConsumer reads backup --json and restore --json the way a
// program driving restic does, with only the field names of restic's
// documentation (doc/075_scripting.rst), and checks that the numbers add
// up.
func TestJSONConsumer(t *testing.T) {
	t.Parallel()
	env, src := textFixture(t)
	type status struct {
		MessageType  string   `json:"message_type"`
		PercentDone  float64  `json:"percent_done"`
		TotalFiles   uint64   `json:"total_files"`
		FilesDone    uint64   `json:"files_done"`
		TotalBytes   uint64   `json:"total_bytes"`
		BytesDone    uint64   `json:"bytes_done"`
		ErrorCount   uint64   `json:"error_count"`
		CurrentFiles []string `json:"current_files"`
		// verbose_status
		Action   string  `json:"action"`
		Item     string  `json:"item"`
		Duration float64 `json:"duration"`
		DataSize uint64  `json:"data_size"`
		// summary
		FilesNew            uint64    `json:"files_new"`
		DirsNew             uint64    `json:"dirs_new"`
		DataBlobs           int64     `json:"data_blobs"`
		TotalFilesProcessed uint64    `json:"total_files_processed"`
		TotalBytesProcessed uint64    `json:"total_bytes_processed"`
		BackupStart         time.Time `json:"backup_start"`
		BackupEnd           time.Time `json:"backup_end"`
		SnapshotID          string    `json:"snapshot_id"`
		// restore
		FilesRestored uint64 `json:"files_restored"`
		BytesRestored uint64 `json:"bytes_restored"`
		Size          uint64 `json:"size"`
	}
	decode := func(out string) (msgs []status) {
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var m status
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			msgs = append(msgs, m)
		}
		return msgs
	}
	msgs := decode(cairnIn(t, src, env, "backup", "--json", "-v", "data"))
	last := msgs[len(msgs)-1]
	if last.MessageType != "summary" || last.FilesNew != 2 || last.DirsNew != 2 || last.TotalFilesProcessed != 2 ||
		last.TotalBytesProcessed != 5002 || len(last.SnapshotID) != 64 || last.BackupEnd.Before(last.BackupStart) || last.DataBlobs != 2 {
		t.Errorf("backup summary = %+v", last)
	}
	var items []string
	var sawFinal bool
	for _, m := range msgs[:len(msgs)-1] {
		switch m.MessageType {
		case "verbose_status":
			if m.Action == "scan_finished" {
				if m.DataSize != 5002 {
					t.Errorf("scan_finished data_size = %d, want 5002", m.DataSize)
				}
				continue
			}
			items = append(items, m.Action+" "+m.Item)
		case "status":
			sawFinal = m.PercentDone == 1 && m.FilesDone == 2 && m.TotalFiles == 2 && m.BytesDone == 5002 && m.TotalBytes == 5002
		default:
			t.Errorf("unexpected message %+v", m)
		}
	}
	slices.Sort(items)
	if want := []string{"new /data/", "new /data/a", "new /data/sub/", "new /data/sub/b"}; !slices.Equal(items, want) {
		t.Errorf("verbose items = %q, want %q", items, want)
	}
	if !sawFinal {
		t.Errorf("no final status with every file and byte done: %+v", msgs)
	}

	target := filepath.Join(t.TempDir(), "t")
	msgs = decode(cairn(t, env, "restore", "--json", "-vv", "latest", "--target", target))
	last = msgs[len(msgs)-1]
	if last.MessageType != "summary" || last.TotalFiles != 4 || last.FilesRestored != 4 || last.BytesRestored != 5002 {
		t.Errorf("restore summary = %+v", last)
	}
	var restored uint64
	for _, m := range msgs {
		if m.MessageType == "verbose_status" && m.Action == "restored" {
			restored += m.Size
		}
	}
	if restored != 5002 {
		t.Errorf("verbose_status sizes add up to %d, want 5002", restored)
	}
}

// TestBackupFlagsOfRestic covers restic 0.19.1's backup flags cairn had
// not: --skip-if-unchanged (restic's "skipped creating snapshot", no
// snapshot_id), --stdin-from-command (the command's output is the file; a
// failing command fails the backup), --files-from-verbatim and
// --files-from-raw, --with-atime (read back by restic) and --group-by for
// the parent.
func TestBackupFlagsOfRestic(t *testing.T) {
	t.Parallel()
	env, src := textFixture(t)
	count := func() int {
		var snaps []json.RawMessage
		if err := json.Unmarshal([]byte(cairn(t, env, "snapshots", "--json")), &snaps); err != nil {
			t.Fatal(err)
		}
		return len(snaps)
	}
	cairnIn(t, src, env, "backup", "data")
	out := cairnIn(t, src, env, "backup", "--skip-if-unchanged", "data")
	if !strings.HasSuffix(out, "\nskipped creating snapshot\n") || count() != 1 {
		t.Errorf("--skip-if-unchanged of an unchanged tree: %d snapshots, printed\n%s", count(), out)
	}
	out = cairnIn(t, src, env, "backup", "--json", "--skip-if-unchanged", "data")
	if strings.Contains(out, "snapshot_id") || !strings.Contains(out, `"message_type":"summary"`) {
		t.Errorf("--json --skip-if-unchanged: %s", out)
	}

	cairn(t, env, "backup", "--stdin-from-command", "--stdin-filename", "out.txt", "--", "echo", "from a command")
	if got := cairn(t, env, "dump", "latest", "/out.txt"); got != "from a command\n" {
		t.Errorf("--stdin-from-command stored %q", got)
	}
	res := run(t, env, cairnBin, "backup", "--stdin-from-command", "--", "sh", "-c", "echo partial; exit 3")
	if res.code != 1 || !strings.Contains(res.stderr, "command failed: exit status 3") || count() != 2 {
		t.Errorf("failing command: %v, %d snapshots (want exit 1 and no new snapshot)", res, count())
	}

	writeFile(t, src, "#odd name", "hash")
	writeFile(t, src, "verbatim.list", "#odd name\n\ndata/sub\n")
	must(t, os.WriteFile(filepath.Join(src, "raw.list"), []byte("data/a\x00#odd name\x00"), 0o644))
	for _, flags := range [][]string{{"--files-from-verbatim", "verbatim.list"}, {"--files-from-raw", "raw.list"}} {
		cairnIn(t, src, env, append([]string{"backup", "--json"}, flags...)...)
		var sn []struct {
			Paths []string `json:"paths"`
		}
		if err := json.Unmarshal([]byte(cairn(t, env, "snapshots", "--json", "latest")), &sn); err != nil || len(sn) != 1 {
			t.Fatalf("snapshots: %v", err)
		}
		got := strings.Join(sn[0].Paths, ",")
		want := map[string]string{"--files-from-verbatim": src + "/#odd name," + src + "/data/sub", "--files-from-raw": src + "/data/a," + src + "/#odd name"}[flags[0]]
		if got != want {
			t.Errorf("%s: paths %q, want %q", flags[0], got, want)
		}
	}

	// --with-atime keeps an access time that differs from the mtime.
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(src, "data/a"), old, time.Now()))
	cairnIn(t, src, env, "backup", "--with-atime", "data")
	atime := ""
	for _, line := range strings.Split(restic(t, env, "ls", "--json", "latest"), "\n") {
		var n struct {
			Path  string `json:"path"`
			Atime string `json:"atime"`
		}
		if json.Unmarshal([]byte(line), &n) == nil && n.Path == "/data/a" {
			atime = n.Atime
		}
	}
	if !strings.HasPrefix(atime, "2001-01-01") {
		t.Errorf("--with-atime: restic reads atime %q, want 2001-01-01", atime)
	}

	// --group-by host,tags: the parent is the last snapshot with the same
	// tags, whatever its paths.
	cairnIn(t, src, env, "backup", "--tag", "g1", "data/a")
	out = cairnIn(t, src, env, "backup", "--group-by", "host,tags", "--tag", "g1", "data")
	if !strings.HasPrefix(out, "using parent snapshot ") {
		t.Errorf("--group-by host,tags found no parent:\n%s", out)
	}
	out = cairnIn(t, src, env, "backup", "--tag", "g2", "--group-by", "tags", "data")
	if !strings.HasPrefix(out, "no parent snapshot found") {
		t.Errorf("--group-by tags with a new tag found a parent:\n%s", out)
	}
}

// TestRestorePatternFiles: restore's --include-file, --exclude-file and
// their case-insensitive forms read patterns as backup's --exclude-file
// does (restic 0.19.1's flags).
func TestRestorePatternFiles(t *testing.T) {
	t.Parallel()
	env, src := textFixture(t)
	writeFile(t, src, "data/sub/C.txt", "c\n")
	cairnIn(t, src, env, "backup", "data")
	lists := t.TempDir()
	writeFile(t, lists, "incl", "# the sub directory\n/data/sub\n")
	writeFile(t, lists, "excl", "*.txt\n")
	writeFile(t, lists, "iexcl", "c.TXT\n")
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--include-file", filepath.Join(lists, "incl")}, "data/sub/C.txt\ndata/sub/b"},
		{[]string{"--exclude-file", filepath.Join(lists, "excl")}, "data/a\ndata/sub/b"},
		{[]string{"--iexclude-file", filepath.Join(lists, "iexcl")}, "data/a\ndata/sub/b"},
		{[]string{"--iinclude-file", filepath.Join(lists, "iexcl")}, "data/sub/C.txt"},
	} {
		target := filepath.Join(t.TempDir(), "t")
		cairn(t, env, append([]string{"restore", "latest", "--target", target}, tc.flags...)...)
		if got := fileList(t, target); got != tc.want {
			t.Errorf("restore %v restored %q, want %q", tc.flags, got, tc.want)
		}
	}
}

// TestRestoreXattrSelection: --include-xattr and --exclude-xattr choose the
// extended attributes restored (all by default), as in restic 0.19.1.
func TestRestoreXattrSelection(t *testing.T) {
	t.Parallel()
	env, src := textFixture(t)
	file := filepath.Join(src, "data/a")
	for _, name := range []string{"user.keep", "user.drop"} {
		if err := unix.Setxattr(file, name, []byte("v"), 0); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the file system of %s has no user xattrs: %v", src, err)
			}
			t.Skipf("the file system of %s has no user xattrs: %v", src, err)
		}
	}
	cairnIn(t, src, env, "backup", "data")
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "user.drop,user.keep"},
		{[]string{"--exclude-xattr", "user.drop"}, "user.keep"},
		{[]string{"--include-xattr", "user.d*"}, "user.drop"},
	} {
		target := filepath.Join(t.TempDir(), "t")
		cairn(t, env, append([]string{"restore", "latest", "--target", target}, tc.flags...)...)
		buf := make([]byte, 1024)
		n, err := unix.Listxattr(filepath.Join(target, "data/a"), buf)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range strings.Split(string(buf[:n]), "\x00") {
			if strings.HasPrefix(x, "user.") {
				names = append(names, x)
			}
		}
		slices.Sort(names)
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("restore %v: xattrs %q, want %q", tc.flags, got, tc.want)
		}
	}
	res := run(t, env, cairnBin, "restore", "latest", "--target", t.TempDir(), "--include-xattr", "a", "--exclude-xattr", "b")
	if res.code != 1 || !strings.Contains(res.stderr, "mutually exclusive") {
		t.Errorf("both xattr flags: %v", res)
	}
}
