package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// treeState maps every path under dir to its type, size, content hash and
// modification time.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		state[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func generateTo(t *testing.T, dir, size string, seed uint64) {
	t.Helper()
	n, err := parseSize(size)
	if err != nil {
		t.Fatal(err)
	}
	if err := generate(t.Context(), dir, makePlan(n, seed), 2); err != nil {
		t.Fatalf("generate(%s, seed %d): %v", size, seed, err)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	base := t.TempDir()
	a, b, c := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")
	generateTo(t, a, "5M", 7)
	generateTo(t, b, "5M", 7)
	generateTo(t, c, "5M", 8)
	sa, sb := treeState(t, a), treeState(t, b)
	if diff := cmp.Diff(sa, sb); diff != "" {
		t.Errorf("same seed, different trees (-a +b):\n%s", diff)
	}
	if cmp.Equal(sa, treeState(t, c)) {
		t.Error("seeds 7 and 8 gave the same tree")
	}
	var total int64
	for _, d := range sa {
		var mode string
		var size int64
		fmt.Sscan(d, &mode, &size)
		if !strings.HasPrefix(mode, "d") {
			total += size
		}
	}
	if want := int64(5 * miB); total < want*95/100 || total > want*105/100 {
		t.Errorf("5M data set holds %d bytes, want within 5%% of %d", total, want)
	}
}

func TestGenerateRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := generate(t.Context(), dir, makePlan(miB, 1), 1); err == nil {
		t.Error("generate into a non-empty directory: no error")
	}
}

func TestMutate(t *testing.T) {
	base := t.TempDir()
	orig, mut, again := filepath.Join(base, "orig"), filepath.Join(base, "mut"), filepath.Join(base, "again")
	for _, d := range []string{orig, mut, again} {
		generateTo(t, d, "5M", 3)
	}
	const percent = 10
	m, err := mutate(mut, percent, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mutate(again, percent, 1); err != nil {
		t.Fatal(err)
	}
	before, after := treeState(t, orig), treeState(t, mut)
	if diff := cmp.Diff(after, treeState(t, again)); diff != "" {
		t.Errorf("same seed, different mutations (-first +second):\n%s", diff)
	}

	files, changed, added := 0, 0, 0
	for p, d := range after {
		if strings.HasPrefix(d, "d") {
			continue
		}
		old, ok := before[p]
		switch {
		case !ok:
			added++
		case old != d:
			changed++
		}
		if ok {
			files++
		}
	}
	want := files * percent / 100
	if changed < want-1 || changed > want+1 {
		t.Errorf("mutate %d%% changed %d of %d files, want about %d", percent, changed, files, want)
	}
	if changed != m.changed() || added != m.added || added == 0 {
		t.Errorf("mutate reported %d changed, %d added; tree shows %d changed, %d added", m.changed(), m.added, changed, added)
	}
}

func TestPlanShape(t *testing.T) {
	for _, c := range []struct {
		size               int64
		minSmall, maxSmall int
		minDirs, maxDirs   int
		wantHuge           bool
	}{
		{2 * giB, 25000, 40000, 900, 1000, true},
		{20 * miB, 300, 500, 8, 20, false},
	} {
		p := makePlan(c.size, 1)
		var small, huge int
		var bytesByKind [2]int64
		for _, f := range p.files {
			switch {
			case f.size <= smallMax:
				small++
			case f.kind == randomContent:
				bytesByKind[randomContent] += f.size
				if f.size >= hugeMin {
					huge++
				}
			default:
				bytesByKind[textContent] += f.size
			}
		}
		name := formatSize(c.size)
		if small < c.minSmall || small > c.maxSmall {
			t.Errorf("%s: %d small files, want %d to %d", name, small, c.minSmall, c.maxSmall)
		}
		if n := len(p.dirs); n < c.minDirs || n > c.maxDirs {
			t.Errorf("%s: %d dirs, want %d to %d", name, n, c.minDirs, c.maxDirs)
		}
		if (huge > 0) != c.wantHuge {
			t.Errorf("%s: %d files of %s or more", name, huge, formatSize(hugeMin))
		}
		for kind, want := range map[contentKind]int64{randomContent: randomShare, textContent: textShare} {
			if got := bytesByKind[kind] * 100 / p.bytes; got < want-3 || got > want+3 {
				t.Errorf("%s: kind %d holds %d%% of the bytes, want about %d%%", name, kind, got, want)
			}
		}
		if p.bytes < c.size*97/100 || p.bytes > c.size*103/100 {
			t.Errorf("%s: plan holds %d bytes", name, p.bytes)
		}
	}
}

func TestTextCompresses(t *testing.T) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	cw := newContentWriter()
	for seed := range uint64(6) {
		var buf bytes.Buffer
		if err := cw.writeText(&buf, 2*miB, seed); err != nil {
			t.Fatal(err)
		}
		ratio := float64(buf.Len()) / float64(len(enc.EncodeAll(buf.Bytes(), nil)))
		if ratio < 2.5 || ratio > 6 {
			t.Errorf("text (seed %d, style %d) compresses %.2fx, want 2.5 to 6", seed, newTextGen(seed).style, ratio)
		}
	}
	var buf bytes.Buffer
	if err := cw.writeRandom(&buf, miB, 1); err != nil {
		t.Fatal(err)
	}
	if n := len(enc.EncodeAll(buf.Bytes(), nil)); n < buf.Len() {
		t.Errorf("random data compressed from %d to %d bytes", buf.Len(), n)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"2G": 2 * giB, "2g": 2 * giB, "500M": 500 * miB, "20MiB": 20 * miB, "64K": 64 * kiB,
		"1.5G": 3 * giB / 2, "123": 123, "1T": 1 << 40, " 5M ": 5 * miB,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "x", "-1M", "2X"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = nil error", in)
		}
	}
}

func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var out, errs bytes.Buffer
	if err := run([]string{"-out", dir, "-size", "1M", "-seed", "2"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-out", dir, "-mutate", "5"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " files, ") || !strings.Contains(lines[1], "changed ") {
		t.Errorf("summary lines = %q", lines)
	}
	if err := run([]string{"-size", "1M"}, &out, &errs); err == nil || !strings.Contains(errs.String(), "-out") {
		t.Errorf("run without -out = %v, usage %q; want an error and the usage", err, errs.String())
	}
}
