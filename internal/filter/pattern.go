package filter

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Pattern is a compiled exclude (or include) pattern. The zero value never
// matches anything.
type Pattern struct {
	text     string // as given, for messages
	negate   bool   // started with "!"
	anchored bool   // started with "/" after the "!"
	fold     bool   // compare lower-cased
	parts    []part // components; empty with anchored matches every path
	need     string // a substring of every path the pattern matches, or ""
}

// String returns the pattern as it was given.
func (p Pattern) String() string { return p.text }

// Negated reports whether the pattern started with "!".
func (p Pattern) Negated() bool { return p.negate }

// ParsePatterns compiles patterns. With caseInsensitive every pattern
// matches regardless of case, as restic's --iexclude does. Empty patterns
// (also "!" alone) are dropped, as they can match nothing. The error names
// every malformed pattern and wraps [path.ErrBadPattern].
func ParsePatterns(patterns []string, caseInsensitive bool) ([]Pattern, error) {
	out := make([]Pattern, 0, len(patterns))
	var errs []error
	for _, s := range patterns {
		p, ok, err := compile(s, caseInsensitive)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// compile turns one pattern into its components. ok is false for a pattern
// that can never match.
func compile(s string, fold bool) (p Pattern, ok bool, err error) {
	p = Pattern{text: s, fold: fold}
	body := s
	if rest, found := strings.CutPrefix(body, "!"); found {
		p.negate = true
		body = rest
	}
	if body == "" {
		return p, false, nil
	}
	if fold {
		body = strings.ToLower(body)
	}
	body = path.Clean(body)
	if rest, found := strings.CutPrefix(body, "/"); found {
		p.anchored = true
		body = rest
	}
	if body == "" { // the root itself
		return p, true, nil
	}
	names := strings.Split(body, "/")
	p.parts = make([]part, len(names))
	for i, name := range names {
		if _, err := path.Match(name, ""); err != nil {
			return p, false, fmt.Errorf("invalid pattern %q: %w", s, err)
		}
		p.parts[i] = newPart(name)
		if lit := p.parts[i].literal(); len(lit) > len(p.need) {
			p.need = lit
		}
	}
	return p, true, nil
}
