// Package lock implements restic's repository locks, so that cairn and
// restic processes can share a repository safely at the same time.
//
// A lock is an unpacked file under locks/: {"time","exclusive","hostname",
// "username","pid","uid","gid"}. A non-exclusive lock conflicts only with
// exclusive ones; an exclusive lock conflicts with every other lock. A
// process lists and loads all locks, writes its own, waits 200 ms and
// checks again, removing its own on a conflict. Locks are refreshed (a new
// file replaces the old) every 5 minutes; one older than 30 minutes, or
// one of a dead process on this host, is stale and only `unlock` removes
// it, as in restic.
//
// # Waiting instead of failing
//
// restic fails at once when a lock conflicts, which is why backups fail
// while a prune runs. Here a process that meets a conflict keeps retrying
// (with backoff) for a configurable time before it gives up. An exclusive
// locker (prune) that finds only non-exclusive locks keeps its own lock in
// place while it waits, so that new cairn backups queue behind it instead
// of starving it; it proceeds once the locks that were there have gone.
// Two exclusive lockers that meet both step back for a random time.
//
// When the lock can no longer be refreshed, the context returned by
// Acquire is cancelled, so that the command stops before it writes
// anything unsafe.
package lock
