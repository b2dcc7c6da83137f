package filter_test

import (
	"path"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/filter"
)

// FuzzMatch feeds arbitrary patterns and paths to the matcher: it must not
// panic, and for a single valid pattern it must agree with refMatch, a
// slow, obviously exhaustive reading of the rules in the package doc.
func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		for _, p := range c.patterns {
			f.Add(p, c.path, c.fold)
		}
	}
	f.Add("/a/**/**/b/**", "/a/x/b", false)
	f.Add("[", "/[", false)
	f.Add(`\`, "/x", true)
	f.Add("!/", "//", false)
	f.Fuzz(func(t *testing.T, pattern, p string, fold bool) {
		ps, err := filter.ParsePatterns(strings.Split(pattern, "\n"), fold)
		if err != nil {
			return
		}
		got := filter.Match(ps, p)
		m, _ := filter.MatchChildren(ps, p)
		if m != got {
			t.Fatalf("MatchChildren(%q, %q) matched %v, Match %v", pattern, p, m, got)
		}
		if strings.Contains(pattern, "\n") || len(ps) != 1 || strings.Count(pattern, "**") > 3 {
			return // the reference takes time exponential in the number of "**"
		}
		if want := refMatch(pattern, p, fold); got != want {
			t.Fatalf("Match(%q, %q, fold=%v) = %v, reference says %v", pattern, p, fold, got, want)
		}
	})
}

// refMatch matches one pattern against p by trying every alignment.
func refMatch(pattern, p string, fold bool) bool {
	body, negate := strings.CutPrefix(pattern, "!")
	if fold {
		body, p = strings.ToLower(body), strings.ToLower(p)
	}
	body = path.Clean(body)
	anchored := strings.HasPrefix(body, "/")
	parts := splitNonEmpty(body)
	if !anchored {
		parts = append([]string{"**"}, parts...)
	}
	var hit bool
	if anchored && len(parts) == 0 {
		hit = true
	} else {
		hit = refPrefix(parts, splitNonEmpty(p))
	}
	return hit && !negate
}

// refPrefix reports whether parts match some leading run of names.
func refPrefix(parts, names []string) bool {
	if len(parts) == 0 {
		return true
	}
	if parts[0] == "**" {
		for skip := 0; skip <= len(names); skip++ {
			if refPrefix(parts[1:], names[skip:]) {
				return true
			}
		}
		return false
	}
	if len(names) == 0 {
		return false
	}
	ok, _ := path.Match(parts[0], names[0])
	return ok && refPrefix(parts[1:], names[1:])
}

func splitNonEmpty(s string) []string {
	var out []string
	for _, x := range strings.Split(s, "/") {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
