// Package forget decides which snapshots a retention policy keeps, with
// the semantics of restic's `forget --keep-*` options (restic 0.14, plus
// -1 meaning "unlimited" as in later releases).
//
// # Model
//
// A [Policy] is applied to one group of snapshots at a time (the command
// groups them by host and paths first). The snapshots are ordered newest
// first and visited in that order. A snapshot is kept if at least one rule
// selects it; the rules are independent (their results are ORed):
//
//   - --keep-tag: every snapshot carrying all tags of one of the lists.
//   - --keep-within d: every snapshot taken after latest − d, where latest
//     is the newest snapshot of the group that is not in the future.
//   - --keep-last/-hourly/-daily/-weekly/-monthly/-yearly n: the snapshots
//     fall into time buckets (each snapshot its own bucket for "last"; the
//     calendar hour, day, ISO week, month or year of the snapshot's own
//     recorded time otherwise). Going from newest to oldest, the first
//     snapshot of each new bucket is kept, until n buckets have been used;
//     -1 never runs out.
//   - --keep-within-hourly/-daily/-weekly/-monthly/-yearly d: the same
//     buckets, without a count, among the snapshots taken after latest − d.
//
// Each kept snapshot carries the list of reasons (rules) that selected it,
// worded as restic words them.
package forget
