package filter

import (
	"path"
	"strings"
)

// partKind picks the cheapest test that decides a component.
type partKind uint8

const (
	kindLiteral  partKind = iota // no glob syntax: plain comparison
	kindAny                      // "*": any single component
	kindAnyDepth                 // "**": any number of components
	kindPrefix                   // "lit*"
	kindSuffix                   // "*lit"
	kindGlob                     // anything else, through path.Match
)

// part is one compiled component of a pattern.
type part struct {
	kind partKind
	text string // the literal for literal/prefix/suffix, else the glob
	lit  string // for a glob: a substring of every name it matches, or ""
}

const globMeta = `*?[\`

func newPart(name string) part {
	switch {
	case name == "**":
		return part{kind: kindAnyDepth}
	case name == "*":
		return part{kind: kindAny}
	case !strings.ContainsAny(name, globMeta):
		return part{kind: kindLiteral, text: name}
	}
	if lit, ok := strings.CutSuffix(name, "*"); ok && !strings.ContainsAny(lit, globMeta) {
		return part{kind: kindPrefix, text: lit}
	}
	if lit, ok := strings.CutPrefix(name, "*"); ok && !strings.ContainsAny(lit, globMeta) {
		return part{kind: kindSuffix, text: lit}
	}
	return part{kind: kindGlob, text: name, lit: globLiteral(name)}
}

// globLiteral returns the longest run of plain characters in a glob, which
// every name the glob matches must contain. Escaped characters and classes
// end a run.
func globLiteral(glob string) string {
	best, start := "", 0
	for i := 0; i < len(glob); i++ {
		switch glob[i] {
		case '*', '?', '\\', '[':
			if i-start > len(best) {
				best = glob[start:i]
			}
			switch glob[i] {
			case '\\':
				i++ // the escaped character
			case '[':
				i = classEnd(glob, i)
			}
			start = i + 1
		}
	}
	if len(glob)-start > len(best) {
		best = glob[start:]
	}
	return best
}

// classEnd returns the index of the "]" that closes the class opening at
// glob[i], or the last index if there is none.
func classEnd(glob string, i int) int {
	for i++; i < len(glob); i++ {
		switch glob[i] {
		case '\\':
			i++
		case ']':
			return i
		}
	}
	return len(glob) - 1
}

// literal returns a substring of every name the part matches.
func (p part) literal() string {
	if p.kind == kindGlob {
		return p.lit
	}
	return p.text
}

// matches reports whether the part matches the single component name,
// comparing lower-cased with fold (the part itself is lower-cased when
// compiled). It is not called for kindAnyDepth.
func (p part) matches(name string, fold bool) bool {
	if fold && !isLowerASCII(name) {
		return p.matchesFolded(name)
	}
	switch p.kind {
	case kindLiteral:
		return name == p.text
	case kindAny:
		return true
	case kindPrefix:
		return strings.HasPrefix(name, p.text)
	case kindSuffix:
		return strings.HasSuffix(name, p.text)
	default:
		if !strings.Contains(name, p.lit) {
			return false
		}
		ok, _ := path.Match(p.text, name) // validated when compiled
		return ok
	}
}

// matchesFolded is matches for a name that holds upper-case letters or
// non-ASCII bytes. Plain ASCII names are compared without lower-casing a
// copy; a glob or a non-ASCII name needs the copy.
func (p part) matchesFolded(name string) bool {
	if !isASCII(name) {
		return p.matches(strings.ToLower(name), false)
	}
	switch p.kind {
	case kindLiteral:
		return len(name) == len(p.text) && equalLowerASCII(name, p.text)
	case kindAny:
		return true
	case kindPrefix:
		return len(name) >= len(p.text) && equalLowerASCII(name[:len(p.text)], p.text)
	case kindSuffix:
		return len(name) >= len(p.text) && equalLowerASCII(name[len(name)-len(p.text):], p.text)
	default:
		if !containsLowerASCII(name, p.lit) {
			return false
		}
		return p.matches(strings.ToLower(name), false)
	}
}

// containsLowerASCII reports whether the ASCII string s, lower-cased,
// contains lower.
func containsLowerASCII(s, lower string) bool {
	if lower == "" {
		return true
	}
	first, upper := lower[0], lower[0]
	if 'a' <= first && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for len(s) >= len(lower) {
		i := strings.IndexByte(s, first)
		if upper != first {
			if j := strings.IndexByte(s, upper); j >= 0 && (i < 0 || j < i) {
				i = j
			}
		}
		if i < 0 || i+len(lower) > len(s) {
			return false
		}
		if equalLowerASCII(s[i:i+len(lower)], lower) {
			return true
		}
		s = s[i+1:]
	}
	return false
}

// equalLowerASCII reports whether the ASCII string s, lower-cased, equals
// lower, which has the same length.
func equalLowerASCII(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isLowerASCII reports whether s is ASCII without upper-case letters, so
// that lower-casing leaves it as it is.
func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
