// Package restorer writes a snapshot's files back to disk.
//
// # Plan, then packs
//
// The restorer first walks the snapshot's trees and creates directories,
// symlinks and other special files. For each regular file it decides what
// is missing: nothing for a file already identical on disk, only the
// chunks that differ for a file partly there (an interrupted restore, a
// changed file), everything for a new one. It then groups the missing
// chunks by pack and reads each pack once, with as few requests as
// sensible, writing every chunk straight to its offsets in the files that
// need it, several packs at once, in the order the walk first needed
// them (files are written front to back and complete early). Memory is
// bounded by the plan (a few words per chunk) and one chunk per reader,
// whatever the file sizes: chunks go to disk straight from the buffer
// they were decoded in.
//
// Creating a file costs far more kernel time than writing a small one,
// so a few openers create the temporary files ahead of the readers, in
// parallel, one directory per opener (a create locks its directory), with
// a bounded number held open; a reader that gets ahead creates the file
// itself. In a directory this restore created, nothing is looked up
// first: nothing can be in the way.
//
// A file being written has a temporary name beside its final one and is
// renamed into place when complete, with its metadata applied (on the
// open descriptor), so a partial file never sits under the final name. Directory metadata is
// applied last, deepest first.
//
// The restorer never prints: counters, per-item events (restored,
// updated, unchanged, deleted) and problems go to the ui.Progress in
// Options.
package restorer
