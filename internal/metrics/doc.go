// Package metrics turns what cairn knows about a repository and about the
// runs of its commands into Prometheus gauges, and writes them in the text
// format that node_exporter's textfile collector reads.
//
// # Repository figures
//
// [Repository] builds a registry from an open repository: snapshots per
// host, the age and size of the newest snapshot of each host and path set,
// the pack files, the blobs of the index, the raw data the snapshots use,
// and the outcome of the last check ([CheckResult]). It reads the
// repository; it never changes it.
//
// # Command figures
//
// [Backup], [Forget], [Prune] and [Check] build a registry for one run of
// a command: whether it succeeded, how long it took, when it ended, and
// its own counts. [WriteFile] writes any registry to a file, replacing the
// old one atomically, so that a collector never reads half a file.
//
// # Check results
//
// check records its outcome with [SaveCheckResult] in the repository's
// cache directory; [LoadCheckResult] reads it back for [Repository].
//
// Every metric name starts with cairn_. The package never prints.
package metrics
