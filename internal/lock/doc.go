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
// When the lock can no longer be refreshed, the context returned by
// Acquire is cancelled, so that the command stops before it writes
// anything unsafe.
package lock
