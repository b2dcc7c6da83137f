package filter

import "os"

// ExcludeSpec is the exclude options of a backup as given: patterns,
// pattern files, both case-sensitive and not, and if-present specs.
type ExcludeSpec struct {
	Patterns, IPatterns         []string // --exclude, --iexclude
	PatternFiles, IPatternFiles []string // --exclude-file, --iexclude-file
	IfPresent                   []string // --exclude-if-present, as filename[:header]
	Caches                      bool     // --exclude-caches
}

// Exclude is every exclude rule of a backup combined.
type Exclude struct {
	Patterns  []Pattern
	IfPresent []IfPresent
	// Caches excludes directories holding a CACHEDIR.TAG file.
	Caches bool
	// LargerThan, if not 0, excludes regular files of more bytes.
	LargerThan int64
}

// ParseExclude compiles the patterns of s, reading its pattern files, and
// its if-present specs.
func ParseExclude(s ExcludeSpec) (*Exclude, error) {
	e := &Exclude{Caches: s.Caches}
	add := func(list []string, insensitive bool) error {
		ps, err := ParsePatterns(list, insensitive)
		if err != nil {
			return err
		}
		e.Patterns = append(e.Patterns, ps...)
		return nil
	}
	if err := add(s.Patterns, false); err != nil {
		return nil, err
	}
	if err := add(s.IPatterns, true); err != nil {
		return nil, err
	}
	for i, files := range [][]string{s.PatternFiles, s.IPatternFiles} {
		for _, f := range files {
			lines, err := ReadPatternFile(f)
			if err != nil {
				return nil, err
			}
			if err := add(lines, i == 1); err != nil {
				return nil, err
			}
		}
	}
	for _, spec := range s.IfPresent {
		p, err := ParseIfPresent(spec)
		if err != nil {
			return nil, err
		}
		e.IfPresent = append(e.IfPresent, p)
	}
	return e, nil
}

// Func returns the predicate that reports whether the entry at path, with
// info fi, is left out; nil if no rule excludes anything.
func (e *Exclude) Func() func(path string, fi os.FileInfo) bool {
	if len(e.Patterns) == 0 && len(e.IfPresent) == 0 && e.LargerThan == 0 && !e.Caches {
		return nil
	}
	return func(path string, fi os.FileInfo) bool {
		if len(e.Patterns) > 0 && Match(e.Patterns, path) {
			return true
		}
		if fi.IsDir() {
			if e.Caches && IsCacheDir(path) {
				return true
			}
			for _, p := range e.IfPresent {
				if p.Excludes(path) {
					return true
				}
			}
		}
		return e.LargerThan > 0 && fi.Mode().IsRegular() && fi.Size() > e.LargerThan
	}
}
