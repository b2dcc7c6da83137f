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
// tree and saves it as a tree blob. Memory is bounded by the queue length,
// the workers' chunk buffers and the repository's open packs.
//
// The archiver never prints: progress and per-file problems go to a
// [Reporter].
package archiver
