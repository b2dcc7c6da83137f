//go:build linux

package tree_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

// TestResticTrees backs up a directory holding every kind of entry with the
// restic binary, then rebuilds each tree of the snapshot with NodeFromPath
// (taking only the content and subtree IDs from restic) and checks that the
// bytes, and so the tree IDs, are identical. It also checks that decoding and
// re-encoding restic's trees gives restic's bytes. Skipped without restic
// 0.14, unless CI=true.
func TestResticTrees(t *testing.T) {
	exe := needRestic(t)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Logf("no zoneinfo for Asia/Kolkata, zone case left out: %v", err)
	}
	for _, tc := range []struct {
		name  string
		opts  tree.NodeOptions
		env   []string
		flags []string
	}{
		{name: "default"},
		{name: "with-atime", opts: tree.NodeOptions{WithAtime: true}, flags: []string{"--with-atime"}},
		// A zone whose old offsets have seconds (+05:21:10 in 1902).
		{name: "zone", opts: tree.NodeOptions{Location: kolkata}, env: []string{"TZ=Asia/Kolkata"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "zone" && kolkata == nil {
				t.Skip("no zoneinfo")
			}
			t.Parallel()
			base := t.TempDir()
			src := filepath.Join(base, "src")
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			writeSource(t, src)
			// Directories above the backed-up one carry their full metadata.
			if err := unix.Setxattr(base, "user.ancestor", []byte("a"), 0); err != nil {
				t.Logf("no xattr on the parent directory: %v", err)
			}
			r := newRestic(t, exe, tc.env...)
			backupAndCompare(t, r, tc.opts, src, base, tc.flags...)
		})
	}
}

var updatePrintTable = flag.Bool("update-print-table", false,
	"rewrite print_table.go from the way the restic binary quotes every rune")

// runeNames spreads every rune except '/', NUL and the surrogates over file
// names of at most 255 bytes, each starting with a unique 6-digit prefix.
func runeNames() []string {
	var out []string
	cur := []byte{}
	for r := rune(1); r <= utf8.MaxRune; r++ {
		if r == '/' || (0xD800 <= r && r <= 0xDFFF) {
			continue
		}
		if len(cur)+utf8.RuneLen(r) > 255-7 {
			out = append(out, fmt.Sprintf("%06d_%s", len(out), cur))
			cur = cur[:0]
		}
		cur = utf8.AppendRune(cur, r)
	}
	return append(out, fmt.Sprintf("%06d_%s", len(out), cur))
}

// TestResticRuneQuoting checks the name quoting for every rune, against a
// tree restic writes for about 18,000 files whose names hold all runes.
// Run with -update-print-table to regenerate print_table.go from it.
func TestResticRuneQuoting(t *testing.T) {
	exe := needRestic(t)
	t.Parallel()
	src := filepath.Join(t.TempDir(), "runes")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range runeNames() {
		if err := os.WriteFile(filepath.Join(src, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := newRestic(t, exe)
	root := r.blob(r.backup(src))
	var tid id.ID
	for _, p := range prefixes(src) {
		rt, err := tree.Decode(root)
		if err != nil || rt.Find(filepath.Base(p)) == nil {
			t.Fatalf("no node for %s in %s (%v)", p, root, err)
		}
		tid = *rt.Find(filepath.Base(p)).Subtree
		root = r.blob(tid)
	}
	want := root

	if *updatePrintTable {
		writePrintTable(t, want)
		return
	}

	// Our tree, built from the file system.
	var ours tree.Tree
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		path := filepath.Join(src, e.Name())
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := tree.NodeFromPath(path, fi)
		if err != nil {
			t.Fatal(err)
		}
		if err := ours.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ours.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, want) {
		return
	}
	raw := resticRawRunes(t, want)
	var diffs []string
	for r := rune(0x80); r <= utf8.MaxRune && len(diffs) < 20; r++ {
		if (r < 0xD800 || r > 0xDFFF) && raw[r] != tree.IsPrint(r) {
			diffs = append(diffs, fmt.Sprintf("%U: restic raw=%v, IsPrint=%v", r, raw[r], tree.IsPrint(r)))
		}
	}
	t.Errorf("our tree of %d rune names differs from restic's; first rune differences %q; %s",
		len(entries), diffs, firstNodeDiff(got, want))
}

// resticRawRunes returns the non-ASCII runes restic left unescaped in the
// names of the tree b.
func resticRawRunes(t *testing.T, b []byte) map[rune]bool {
	var v struct{ Nodes []struct{ Name string } }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	raw := map[rune]bool{}
	for _, n := range v.Nodes {
		for s := n.Name; s != ""; {
			if s[0] == '\\' {
				_, _, tail, err := strconv.UnquoteChar(s, '"')
				if err != nil {
					t.Fatalf("bad escape in %q: %v", n.Name, err)
				}
				s = tail
				continue
			}
			r, size := utf8.DecodeRuneInString(s)
			if r >= utf8.RuneSelf {
				raw[r] = true
			}
			s = s[size:]
		}
	}
	return raw
}

// writePrintTable writes print_table.go: ASCII is handled in code, the
// tables list the non-ASCII runes restic leaves unescaped as [lo, hi] pairs.
func writePrintTable(t *testing.T, b []byte) {
	raw := resticRawRunes(t, b)
	var buf bytes.Buffer
	buf.WriteString(`// Code generated by TestResticRuneQuoting -update-print-table; DO NOT EDIT.

package tree

// print16 and print32 list, as inclusive [lo, hi] pairs, the non-ASCII runes
// that the restic 0.14.0 binary writes unescaped in node names, that is the
// runes Go 1.19's strconv.IsPrint accepts (Unicode 13.0.0).
`)
	emit := func(name, typ string, lo, hi rune) {
		fmt.Fprintf(&buf, "var %s = [...]%s{\n", name, typ)
		start, count := rune(-1), 0
		for r := lo; r <= hi+1; r++ {
			in := r <= hi && raw[r]
			switch {
			case in && start < 0:
				start = r
			case !in && start >= 0:
				fmt.Fprintf(&buf, "%#04x, %#04x,", start, r-1)
				if count++; count%4 == 0 {
					buf.WriteByte('\n')
				}
				start = -1
			}
		}
		buf.WriteString("\n}\n\n")
	}
	emit("print16", "uint16", 0x80, 0xFFFF)
	emit("print32", "uint32", 0x10000, utf8.MaxRune)
	src, err := format.Source(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("print_table.go", src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote print_table.go with %d runes; run the tests again", len(raw))
}

// TestResticClampsYears checks, on a tmpfs (which stores 64-bit times, unlike
// ext4), that NodeFromPath clamps years outside [0, 9999] as restic does:
// the year of the local date is replaced and the rest of the date kept, so
// the result depends on the zone. Needs root to mount; skipped otherwise.
func TestResticClampsYears(t *testing.T) {
	exe := needRestic(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if err := unix.Mount("cairn-test", mnt, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	src := filepath.Join(mnt, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mt := range map[string]time.Time{
		"leap-10400":  time.Date(10400, 2, 29, 12, 0, 0, 123, time.UTC),
		"minus-1":     time.Date(-1, 3, 4, 5, 6, 7, 8, time.UTC),
		"minus-1-end": time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC),
		"minus-5":     time.Date(-5, 3, 1, 1, 0, 0, 0, time.UTC),
		"y10000":      time.Date(10000, 1, 1, 2, 0, 0, 0, time.UTC),
		"y9999":       time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC),
	} {
		path := filepath.Join(src, name)
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		ts, err := unix.TimeToTimespec(mt)
		if err != nil {
			t.Skipf("time %v does not fit: %v", mt, err)
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The parallel subtests read src; an atime in the future is left alone.
	future, err := unix.TimeToTimespec(time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, src, []unix.Timespec{future, omit}, 0); err != nil {
		t.Fatal(err)
	}
	for _, zone := range []string{"UTC", "Asia/Kolkata", "America/New_York"} {
		t.Run(zone, func(t *testing.T) {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Skipf("no zoneinfo: %v", err)
			}
			t.Parallel()
			r := newRestic(t, exe, "TZ="+zone)
			backupAndCompare(t, r, tree.NodeOptions{Location: loc, WithAtime: true}, src, mnt, "--with-atime")
		})
	}
}
