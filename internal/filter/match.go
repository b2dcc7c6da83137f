package filter

import "strings"

// Match reports whether patterns, taken in order, leave path matched: the
// last pattern that matches path decides, and a negated one unmatches it.
// path is an absolute, cleaned, slash-separated path such as "/home/a/b".
//
// Match splits path at most once, into a buffer on the stack for paths up
// to 32 components deep, and skips most patterns that cannot match with a
// substring test first. It allocates nothing else, except where a
// case-insensitive pattern has to lower-case a copy of a name: a non-ASCII
// name, or one with upper-case letters that a "?" or "[...]" glob must
// decide.
func Match(patterns []Pattern, path string) bool {
	var buf [32]string
	var names []string
	split := false
	ascii := maybe
	for i := len(patterns) - 1; i >= 0; i-- {
		p := &patterns[i]
		if !p.mayMatch(path, &ascii) {
			continue
		}
		if !split {
			names, split = splitPath(buf[:0], path), true
		}
		if full, _ := p.scan(names); full {
			return !p.negate
		}
	}
	return false
}

// MatchChildren is [Match] for a directory that may be walked into, as
// include filters need. matched is what Match reports for dir;
// childMayMatch reports whether some path below dir could be matched, so
// that a walk that finds it false can skip the directory. childMayMatch errs
// on the side of true.
func MatchChildren(patterns []Pattern, dir string) (matched, childMayMatch bool) {
	var buf [32]string
	names := splitPath(buf[:0], dir)
	for i := range patterns {
		p := &patterns[i]
		full, partial := p.scan(names)
		switch {
		case p.negate && full:
			// The negation covers dir and so everything below it.
			matched, childMayMatch = false, false
		case p.negate:
		case full:
			matched, childMayMatch = true, true
		case partial:
			childMayMatch = true
		}
	}
	return matched, childMayMatch
}

// tristate caches a yes/no answer that is computed only when needed.
type tristate uint8

const (
	maybe tristate = iota
	yes
	no
)

// mayMatch is a quick test: false means the pattern cannot match path.
// ascii caches whether path is ASCII, for case-insensitive patterns.
func (p *Pattern) mayMatch(path string, ascii *tristate) bool {
	if p.need == "" {
		return true
	}
	if !p.fold {
		return strings.Contains(path, p.need)
	}
	if *ascii == maybe {
		*ascii = no
		if isASCII(path) {
			*ascii = yes
		}
	}
	// Lower-casing non-ASCII text may yield ASCII letters (K, the Kelvin
	// sign, becomes k), so only an ASCII path can be ruled out here.
	return *ascii == no || containsLowerASCII(path, p.need)
}

// scan aligns the pattern's components with a path's names. full reports
// that the pattern matched a leading run of the names (so the path is
// matched, itself or through a parent). partial reports that the pattern
// could still match if more names followed, that is below the path.
//
// A "**" part, and the implicit one in front of a pattern that is not
// anchored, absorbs names one at a time when the parts after it fail; each
// part other than "**" takes exactly one name, so remembering the last "**"
// is enough to try every alignment.
func (p *Pattern) scan(names []string) (full, partial bool) {
	parts := p.parts
	if len(parts) == 0 {
		return p.anchored, p.anchored // "/" matches all; the zero Pattern nothing
	}
	ni, pi := 0, 0
	starPi, starNi := -1, 0 // where to resume after the last "**"
	if !p.anchored {
		starPi = 0
	}
	for {
		for pi < len(parts) && parts[pi].kind == kindAnyDepth {
			pi++
			starPi, starNi = pi, ni
		}
		if pi == len(parts) {
			return true, true
		}
		if ni == len(names) {
			return false, true
		}
		if parts[pi].matches(names[ni], p.fold) {
			pi, ni = pi+1, ni+1
			continue
		}
		if starPi < 0 {
			return false, false
		}
		// Let the "**" take one more name and retry the parts after it.
		starNi++
		pi, ni = starPi, starNi
	}
}

// splitPath appends the non-empty slash-separated names of path to buf.
func splitPath(buf []string, path string) []string {
	for len(path) > 0 {
		i := strings.IndexByte(path, '/')
		if i < 0 {
			return append(buf, path)
		}
		if i > 0 {
			buf = append(buf, path[:i])
		}
		path = path[i+1:]
	}
	return buf
}
