// Package lock implements restic's repository locks, so that cairn and
// restic processes can share a repository safely at the same time.
//
// A lock is an unpacked file under locks/: {"time","exclusive","hostname",
// "username","pid","uid","gid"}. A non-exclusive lock conflicts only with
// exclusive ones; an exclusive lock conflicts with every other lock. A
// process lists and loads all locks, writes its own, waits 200 ms and
// checks again, removing its own on a conflict. Locks are refreshed (a new
// file replaces the old) every 5 minutes; one older than 30 minutes, or
// one of a dead process on this host, is stale, and `unlock` removes it,
// as in restic.
//
// # Stale locks
//
// Acquire never waits for a stale lock. One of a process of this host
// that is gone protects nothing: Acquire removes it and says so. One not
// refreshed for 30 minutes may belong to a process on another host that
// this one cannot see: Acquire fails at once with a [*LockedError] (Stale
// set), so that a person decides and runs unlock, instead of a job
// waiting for something that never comes.
//
// # Waiting instead of failing
//
// restic fails at once when a lock conflicts, which is why backups fail
// while a prune runs. Here a process writes its lock at once and then
// waits (for a configurable time) until no conflicting lock is ahead of it
// in the queue: a cairn lock is ahead if it was first written earlier (its
// "cairn_queued" time, kept across refreshes; restic ignores the field),
// a restic lock always is. Later lockers wait for earlier ones, so backups
// and prunes take turns and never starve, and two cairn waiters never wait
// for each other.
//
// # Reading while the lock is taken
//
// The 200 ms before the second check are idle time for a command that
// only reads first. Begin takes a lock in the background when no
// conflicting lock is there at first sight, and the command reads (a
// backup loads the index and the parent snapshot and walks its files)
// while it is taken. Its writes wait for the lock (repository write
// gate) and then for the proof that nothing it read was removed meanwhile
// (repository.CheckIndexFiles: prune and repair remove index files,
// backups only add them). Should a prune have got in first, the command
// has written nothing and starts again under its lock. A backup of an
// unchanged tree takes a third less time this way.
//
// When the lock can no longer be refreshed, the context returned by
// Acquire is cancelled, so that the command stops before it writes
// anything unsafe.
package lock
