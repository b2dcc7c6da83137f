// Package filter decides which paths a backup leaves out, with the same
// pattern language as restic's --exclude, --iexclude and --exclude-file
// options, and the directory tests behind --exclude-caches and
// --exclude-if-present.
//
// # Patterns
//
// A pattern is a slash-separated list of glob components. Each component
// uses the syntax of [path.Match] (`*`, `?`, `[...]`, `\` escapes) and never
// matches across a `/`. A component that is exactly `**` matches any number
// of path components, none included. The pattern is cleaned like
// [path.Clean] first, so a trailing `/`, `.` components and doubled slashes
// make no difference.
//
// A pattern that starts with `/` is anchored at the root: `/bin` matches
// `/bin` and `/bin/bash` but not `/usr/bin`. Any other pattern may start at
// any component: `foo` matches `/foo`, `/a/foo` and `/a/foo/b`, but not
// `/foobar`. In both cases a pattern that matches a directory matches
// everything below it, so the pattern need only cover a leading run of the
// path's components. The anchored pattern `/` therefore matches every path.
//
// A pattern that starts with `!` is a negation: a path it matches is no
// longer matched, unless a later plain pattern matches it again. The last
// pattern that matches a path decides. As with gitignore, a negation cannot
// bring back a file whose directory is already left out, because a backup
// never walks into that directory; [Match] itself only answers for the path
// it is given.
//
// Case-insensitive patterns (--iexclude) compare the lower-cased pattern
// with the lower-cased path.
//
// # Directory tags
//
// [IsCacheDir] and [IfPresent] tell whether a directory carries a tag file.
// restic keeps such a directory and the tag file itself, and leaves out the
// rest of the directory's entries; the caller does the same with the answer.
package filter
