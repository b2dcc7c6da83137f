package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGoldenText compares cairn's text output of ls and stats, and the
// exit codes and stderr of a few edge cases, with restic 0.19.1's,
// recorded under testdata/golden/text_*.txt (-update-golden with
// $RESTIC_BIN records them, as for TestGoldenJSON). Debian's restic is too
// old for these: it has no ls --sort or --ncdu, no compression numbers in
// stats and no --insecure-no-password. Values that differ between two
// backups of the same tree (IDs, times, inodes, sizes in the repository)
// are masked; paths, order, columns and labels are compared exactly.
func TestGoldenText(t *testing.T) {
	type textCase struct {
		name string
		args []string
		// fill, if set, replaces "INDEX" and "SNAP" in args with the
		// fixture's IDs.
		fill  bool
		empty bool
		mask  func(string) string
	}
	lsMask := func(s string) string {
		s = reHeader.ReplaceAllString(s, "snapshot ID of [SRC] at TIME by USER@HOST filtered by")
		return reDate.ReplaceAllString(s, "DATE")
	}
	ncduMask := func(s string) string {
		first, rest, _ := strings.Cut(s, "\n")
		first = reSnapJSON.ReplaceAllString(first, "{SNAPSHOT}")
		return first + "\n" + reNumber.ReplaceAllString(rest, `"$1":N`)
	}
	statsMask := func(s string) string { return reStatValue.ReplaceAllString(s, "$1:  V") }
	// The fixture's path differs in length between runs, and so do the
	// column widths: compare the cells, their order and the rules.
	snapsMask := func(s string) string {
		s = reSrc.ReplaceAllString(s, "SRC")
		s = reDate.ReplaceAllString(s, "DATE")
		s = reShortID.ReplaceAllString(s, "ID")
		s = reRule.ReplaceAllString(s, "RULE")
		return reSpaces.ReplaceAllString(s, "  ")
	}
	catMask := func(s string) string {
		s = reVersion.ReplaceAllString(s, `"program_version": "V"`)
		s = reHex64.ReplaceAllString(s, "ID")
		s = reB64.ReplaceAllString(s, `"B64"`)
		s = reRFC3339.ReplaceAllString(s, "TIME")
		s = reSrc.ReplaceAllString(s, "SRC")
		s = reJSONNum.ReplaceAllString(s, ": N")
		s = rePoly.ReplaceAllString(s, `"chunker_polynomial": "P"`)
		// How blobs are spread over packs differs: compare the layout of
		// one pack entry.
		s = reBlob.ReplaceAllString(s, "BLOB")
		s = reBlobs.ReplaceAllString(s, "BLOB")
		s = rePacks.ReplaceAllString(s, "PACK")
		return reUser.ReplaceAllString(s, `"$1": "U"`)
	}
	cases := []textCase{
		{name: "cat_config", args: []string{"cat", "config"}, mask: catMask},
		{name: "cat_index", args: []string{"cat", "index", "INDEX"}, fill: true, mask: catMask},
		{name: "cat_snapshot", args: []string{"cat", "snapshot", "SNAP"}, fill: true, mask: catMask},
		{name: "cat_masterkey", args: []string{"cat", "masterkey"}, mask: catMask},
		{name: "cat_bad_type", args: []string{"cat", "bogus"}, mask: catMask},
		{name: "cat_no_type", args: []string{"cat"}, mask: catMask},
		{name: "cat_no_id", args: []string{"cat", "snapshot"}, mask: catMask},
		{name: "ls_root", args: []string{"ls", "latest", "/"}, mask: lsMask},
		{name: "ls_dir", args: []string{"ls", "latest", "/docs"}, mask: lsMask},
		{name: "ls_dirs_recursive", args: []string{"ls", "latest", "/docs", "/data", "--recursive"}, mask: lsMask},
		{name: "ls_sort_size_reverse", args: []string{"ls", "latest", "--sort", "size", "--reverse"}, mask: lsMask},
		{name: "ls_sort_extension", args: []string{"ls", "latest", "-s", "extension"}, mask: lsMask},
		{name: "ls_long", args: []string{"ls", "latest", "-l", "/"}, mask: lsMask},
		{name: "ls_long_human", args: []string{"ls", "latest", "-l", "--human-readable", "/docs"}, mask: lsMask},
		{name: "ls_missing_dir", args: []string{"ls", "latest", "/nothing/here"}, mask: lsMask},
		{name: "ls_relative_dir", args: []string{"ls", "latest", "docs"}, mask: lsMask},
		{name: "ls_bad_sort", args: []string{"ls", "latest", "--sort", "colour"}, mask: lsMask},
		{name: "ls_ncdu", args: []string{"ls", "latest", "--ncdu"}, mask: ncduMask},
		{name: "ls_ncdu_dir", args: []string{"ls", "latest", "--ncdu", "/docs"}, mask: ncduMask},
		{name: "ls_ncdu_sort", args: []string{"ls", "latest", "--ncdu", "--sort", "size"}, mask: ncduMask},
		{name: "snapshots", args: []string{"snapshots"}, mask: snapsMask},
		{name: "snapshots_compact", args: []string{"snapshots", "--compact"}, mask: snapsMask},
		{name: "snapshots_latest_group", args: []string{"snapshots", "--latest", "1", "--group-by", "host"}, mask: snapsMask},
		{name: "snapshots_none", args: []string{"snapshots"}, empty: true, mask: snapsMask},
		{name: "stats_raw_data", args: []string{"stats", "--mode", "raw-data"}, mask: statsMask},
		{name: "stats_restore_size", args: []string{"stats"}, mask: statsMask},
		{name: "stats_blobs_per_file", args: []string{"stats", "--mode", "blobs-per-file"}, mask: statsMask},
		{name: "stats_latest_empty", args: []string{"stats", "latest"}, empty: true, mask: statsMask},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bin := goldenTool(t)
			f := newGoldenFixture(t, bin, c.empty)
			args := c.args
			if c.fill {
				index := strings.Fields(f.must(t, "list", "index"))[0]
				r := strings.NewReplacer("INDEX", index, "SNAP", f.snaps[0])
				args = nil
				for _, a := range c.args {
					args = append(args, r.Replace(a))
				}
			}
			res := f.run(t, args...)
			// restic's progress line when stdout is no terminal.
			stdout := reProgress.ReplaceAllString(res.stdout, "")
			got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", res.code, c.mask(stdout), normalizeErr(res.stderr))
			file := filepath.Join("testdata", "golden", "text_"+c.name+".txt")
			if *updateGolden {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (record it with -update-golden)", err)
			}
			if got != string(want) {
				t.Errorf("cairn %v differs from restic 0.19.1 (%s)\nwant:\n%s\ngot:\n%s", c.args, file, want, got)
			}
		})
	}
}

var (
	reHeader    = regexp.MustCompile(`snapshot [0-9a-f]{8} of \[[^\]]*\] at .* by [^ ]+ filtered by`)
	reDate      = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	reSnapJSON  = regexp.MustCompile(`\{"time".*\}\}`)
	reNumber    = regexp.MustCompile(`"(asize|dsize|dev|ino|mtime)":\d+`)
	reStatValue = regexp.MustCompile(`(?m)^( *[A-Za-z ]+):  .*$`)
	reProgress  = regexp.MustCompile(`(?m)^\[\d+:\d\d\].*\n`)
	reSrc       = regexp.MustCompile(`/\S*/src`)
	reShortID   = regexp.MustCompile(`(?m)^[0-9a-f]{8}\b`)
	reRule      = regexp.MustCompile(`-{20,}`)
	reSpaces    = regexp.MustCompile(`  +`)
	reVersion   = regexp.MustCompile(`"program_version": ?"[^"]*"`)
	reHex64     = regexp.MustCompile(`[0-9a-f]{64}`)
	reB64       = regexp.MustCompile(`"[A-Za-z0-9+/]{16,}={0,2}"`)
	reRFC3339   = regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)`)
	reJSONNum   = regexp.MustCompile(`: ?\d+(\.\d+)?`)
	rePoly      = regexp.MustCompile(`"chunker_polynomial": ?"[0-9a-f]+"`)
	reBlob      = regexp.MustCompile(`\{"id":"ID","type":"(data|tree)","offset": N,"length": N(,"uncompressed_length": N)?\}`)
	reBlobs     = regexp.MustCompile(`BLOB(,BLOB)+`)
	rePacks     = regexp.MustCompile(`\{"id":"ID","blobs":\[BLOB\]\}(,\{"id":"ID","blobs":\[BLOB\]\})*`)
	reUser      = regexp.MustCompile(`"(username|hostname)": ?"[^"]*"`)
)

// normalizeErr makes the error lines of both tools comparable: the tool's
// name and cairn's own wording of the same facts.
// A flag error is the one line that restic prints without "Fatal: ";
// cairn's main adds it to every error line.
func normalizeErr(s string) string {
	s = strings.TrimPrefix(s, "Fatal: invalid argument")
	s = strings.TrimPrefix(s, "invalid argument")
	s = strings.ReplaceAll(s, "restic", "TOOL")
	s = strings.ReplaceAll(s, "cairn", "TOOL")
	return s
}
