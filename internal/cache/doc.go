// Package cache keeps local copies of a repository's index, snapshot and
// tree pack files, in restic's cache layout, so that restic and cairn
// processes can share one cache directory:
//
//	<base>/CACHEDIR.TAG
//	<base>/<repository id>/version                      "1"
//	<base>/<repository id>/{data,index,snapshots}/xx/<file id>
//
// # Many processes, no locks needed for correctness
//
// Every entry is named by the SHA-256 of its bytes and written to a unique
// temporary file in its directory, synced and renamed into place, so a
// reader sees a whole file or none, and two writers of the same entry both
// succeed. Entries are verified when read; a bad one is dropped and fetched
// again, once. Every delete and every directory walk treats "does not
// exist" as success, because another process may have got there first.
// Cleanup never removes an entry younger than a grace period (another
// process may have just written it), sweeps stale temporary files, and
// evicts least recently used packs to keep the cache under a size bound.
// Setup (base directory, tag, version file) is atomic too: files are
// published with link(2), which never replaces a complete file.
//
// # Never fatal
//
// No cache problem fails a command. A cache that cannot be created, read
// or written (missing, read-only, full, removed mid-run) produces one
// warning through the Warn callback and the command goes on without it.
//
// A tree pack a process has just written is stored from its local file
// (Keep) the same way, so the next backup does not download it.
//
// Two processes that miss the same pack at the same time take an advisory
// lock (flock) on a per-entry lock file, so only one downloads it; where
// locking fails, both download and both succeed.
package cache
