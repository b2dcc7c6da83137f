// Package browse is the read-only view of a repository that `cairn mount`
// and `cairn serve` share: the snapshots that a filter selects, arranged
// in directories by path templates as restic's mount arranges them, the
// nodes of their trees found by path, and file contents read lazily, blob
// by blob, through a cache of bounded size.
//
// # Layout
//
// Each path template ("hosts/%h/%T", say) places every snapshot at the
// path it expands to: %i is the short snapshot ID, %I the long one, %u the
// user name, %h the host name, %t a tag (a snapshot is placed once for
// each of its tags, and not at all by a template with %t if it has none)
// and %T the snapshot time formatted with the time template. Where two
// snapshots expand to the same path, the older keeps the name and the
// newer ones get "-1", "-2" and so on. Every directory that a template
// whose last component has %T fills also holds a symlink "latest" to its
// newest snapshot, as restic's (so "ids" has none).
// A directory's time is that of the newest snapshot below it.
//
// # Freshness
//
// [View.Layout] lists the repository's snapshot files again when the last
// listing is older than Options.Refresh, so snapshots made after the view
// was opened appear, and forgotten ones go, without reopening it. Only
// new snapshot files are loaded; before a new snapshot is shown, the
// Options.Reload hook (the repository's index reload) runs so that its
// blobs can be read. A snapshot file that cannot be read or decoded is
// reported to Options.Warn and left out; it does not hide the others.
//
// # Memory
//
// Decoded trees are kept in a cache of Options.TreeCache entries and data
// blobs in one of Options.BlobCache bytes; both are least recently used
// caches, safe for concurrent use, so memory does not grow with the
// repository or with how much is read.
package browse
