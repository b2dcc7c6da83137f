// Package archiver turns files on disk into blobs and trees of a
// repository: the heart of `backup`.
//
// # Pipeline
//
// One walker goroutine visits the targets depth first, in name order,
// lstat-ing each entry, applying the exclude rules and comparing with the
// parent snapshot. Regular files that need reading go through a bounded
// queue to file workers (one per CPU, at least two), which read, chunk,
// hash and hand each chunk to the repository (dedup, compress, encrypt,
// pack; uploads run in the repository's own workers). A directory is
// finished by a small goroutine once all its children are: it encodes the
// tree and saves it as a tree blob, unless the encoding is the very bytes
// of the directory's tree in the parent snapshot, whose ID it then takes
// without hashing. Memory is bounded by the queue length,
// the workers' chunk buffers and the repository's open packs.
//
// A scanner goroutine walks the same targets beside the backup and adds
// what it finds to the totals of the progress, so that the status can
// show a percentage (restic's scanner; off with Options.NoScan, which
// backup sets when nothing would show the totals).
//
// The archiver never prints: counters (atomic adds, one per chunk), the
// files being read, per-item events and problems go to the
// [ui.Progress] in Options.
//
// [ui.Progress]: https://pkg.go.dev/github.com/cairn-backup/cairn/internal/ui#Progress
package archiver
