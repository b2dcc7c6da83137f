package filter_test

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/filter"
)

func mustParse(t testing.TB, patterns []string, fold bool) []filter.Pattern {
	t.Helper()
	ps, err := filter.ParsePatterns(patterns, fold)
	if err != nil {
		t.Fatalf("ParsePatterns(%q) error: %v", patterns, err)
	}
	return ps
}

func TestMatch(t *testing.T) {
	if len(matchCases) < 40 {
		t.Fatalf("only %d cases", len(matchCases))
	}
	seen := map[string]bool{}
	for _, c := range matchCases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			ps := mustParse(t, c.patterns, c.fold)
			if got := filter.Match(ps, c.path); got != c.want {
				t.Errorf("Match(%q, %q) = %v, want %v", c.patterns, c.path, got, c.want)
			}
		})
	}
}

func TestMatchCombinedLists(t *testing.T) {
	// --exclude and --iexclude patterns may share one list.
	plain := mustParse(t, []string{"*.tmp"}, false)
	folded := mustParse(t, []string{"CACHE"}, true)
	all := append(plain, folded...)
	for _, c := range []struct {
		path string
		want bool
	}{
		{"/a/x.tmp", true},
		{"/a/x.TMP", false},
		{"/a/Cache/f", true},
		{"/a/cache", true},
		{"/a/keep", false},
	} {
		if got := filter.Match(all, c.path); got != c.want {
			t.Errorf("Match(*.tmp + iexclude CACHE, %q) = %v, want %v", c.path, got, c.want)
		}
	}
}

func TestMatchChildren(t *testing.T) {
	for _, c := range []struct {
		name            string
		patterns        []string
		dir             string
		matched, childs bool
	}{
		{"anchored file below", []string{"/a/b/c.txt"}, "/a", false, true},
		{"anchored file deeper", []string{"/a/b/c.txt"}, "/a/b", false, true},
		{"anchored other branch", []string{"/a/b/c.txt"}, "/x", false, false},
		{"anchored wrong second", []string{"/a/b/c.txt"}, "/a/x", false, false},
		{"anchored matched dir", []string{"/a/b"}, "/a/b", true, true},
		{"anchored below match", []string{"/a/b"}, "/a/b/c", true, true},
		{"relative anywhere", []string{"*.go"}, "/x/y", false, true},
		{"anchored doublestar", []string{"/a/**/z"}, "/a/q/r", false, true},
		{"anchored doublestar other root", []string{"/a/**/z"}, "/b", false, false},
		{"wildcard component", []string{"/home/*/docs"}, "/home/u", false, true},
		{"negated dir", []string{"/a", "!/a/b"}, "/a/b", false, false},
		{"negated then included", []string{"/a", "!/a/b", "/a/b/c"}, "/a/b", false, true},
		{"negated elsewhere", []string{"/a", "!/a/b"}, "/a/c", true, true},
		{"root", []string{"/"}, "/", true, true},
		{"nothing", nil, "/a", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := mustParse(t, c.patterns, false)
			m, ch := filter.MatchChildren(ps, c.dir)
			if m != c.matched || ch != c.childs {
				t.Errorf("MatchChildren(%q, %q) = %v, %v, want %v, %v", c.patterns, c.dir, m, ch, c.matched, c.childs)
			}
			if want := filter.Match(ps, c.dir); m != want {
				t.Errorf("MatchChildren(%q, %q) matched = %v, but Match = %v", c.patterns, c.dir, m, want)
			}
		})
	}
}

func TestParsePatternsErrors(t *testing.T) {
	_, err := filter.ParsePatterns([]string{"ok", "[a-", "fine/*", `foo\`, "b["}, false)
	if err == nil {
		t.Fatal("ParsePatterns with bad globs: no error")
	}
	if !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("error %v does not wrap path.ErrBadPattern", err)
	}
	for _, bad := range []string{`"[a-"`, `"foo\\"`, `"b["`} {
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("error %q does not name %s", err, bad)
		}
	}
	if strings.Contains(err.Error(), `"ok"`) || strings.Contains(err.Error(), `"fine/*"`) {
		t.Errorf("error %q names a valid pattern", err)
	}
}

func TestPatternAccessors(t *testing.T) {
	ps := mustParse(t, []string{"!/a/b/", "c", ""}, false)
	if len(ps) != 2 {
		t.Fatalf("ParsePatterns kept %d patterns, want 2 (empty dropped)", len(ps))
	}
	if got := ps[0].String(); got != "!/a/b/" {
		t.Errorf("String() = %q, want %q", got, "!/a/b/")
	}
	if !ps[0].Negated() || ps[1].Negated() {
		t.Errorf("Negated() = %v, %v, want true, false", ps[0].Negated(), ps[1].Negated())
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	ps := mustParse(t, []string{"*.go", "/a/**/b", "node_modules", "!keep", "x[0-9]y", "Cache"}, false)
	allocs := testing.AllocsPerRun(100, func() {
		filter.Match(ps, "/home/user/src/project/node_modules/pkg/index.js")
		filter.Match(ps, "/a/b/c/d/e/f/g/h")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per run, want 0", allocs)
	}
}
