// Package prune removes data no snapshot needs from a repository: pack
// files whose blobs are all unused are deleted, and packs that are only
// partly used (or small, mixed or uncompressed) are repacked: their
// needed blobs are written into new packs and the old packs deleted.
//
// A prune runs in two phases under a prune lock, beside backups of cairn
// and restic; with Options.Exclusive it runs in one phase under an
// exclusive lock, as restic's prune does.
//
// # Phase 1: plan, repack, swap the index, condemn
//
//  1. Pending records of earlier prunes are finished where that is safe
//     (phase 2, below); their packs are left out of the new plan.
//  2. The snapshots and then the index are loaded and the plan made
//     (Prepare). Snapshots first: a writer indexes its blobs before it
//     saves its snapshot, so every snapshot listed has its blobs in the
//     index read after.
//  3. Stale temporary files (local backend, older than an hour) are deleted.
//  4. Needed blobs of the packs to repack are written into new packs with
//     index files of their own.
//  5. New index files are written for every pack that stays (the new ones
//     included), split at 50 000 blobs.
//  6. A record R1 is written: the condemned packs (those to delete, with
//     their blobs, and the stored packs no index named), the old and new
//     index files, and the snapshots the plan knew. A Record is stored as an
//     index file without packs, which every backend accepts and restic
//     reads as an empty index.
//  7. The old index files are deleted: the index swap. From here on a
//     process that loads the index no longer sees the condemned packs.
//     restic fails when an index file it listed is gone when it reads it,
//     so index files are removed at a moment when no restic lock is
//     younger than ten seconds (waiting at most half a minute); cairn
//     lists again instead.
//  8. The locks are listed, and R1 is replaced by R2, which adds the time
//     of the swap and the holders of those locks (host, user, PID and
//     cairn's queue time: a process keeps them across lock refreshes).
//  9. With no holders, phase 2 runs at once on R2.
//
// # Phase 2: delete what nobody can use
//
// Phase 2 runs at the start of every prune and alone with prune --finish,
// from any host. For each record: an R1 (the swap not confirmed) is
// confirmed if all its new index files exist (the rest of the old ones
// are deleted and the holders listed, as in steps 7 and 8) and abandoned
// otherwise (its stored packs are indexed again). An R2 waits while any
// holder still has a lock that is not stale by restic's rules (refreshed
// in the last 30 minutes, not of a dead process of this host), and, if it
// had holders, until the grace period after the swap has passed. Then
// the snapshots and the index are read again (what the holders wrote last
// counts) and DecideFinish decides: the snapshots the plan did not know are walked
// (their trees read from the index or from the condemned packs), and a
// condemned pack holding a blob they use that the index lacks is indexed
// again; a condemned pack that an index names again (a backup's index
// for an unindexed pack, or repair index) stays; the others are deleted,
// and last the record.
//
// # Why no blob in use is deleted
//
// A snapshot references a blob only if its writer uploaded it, or found
// it in the index it loaded after taking its lock (dedup, and the
// unchanged files of a parent snapshot: both cairn and restic check the
// index for those). A writer that loaded the index after the swap never
// sees a condemned pack. A writer that loaded it before the swap held its
// lock at the swap: restic writes its lock before reading; cairn may read
// while its lock is being taken, but then proves before its first write
// that no index file it read was deleted (repository.CheckIndexFiles), or
// starts again. So it is a holder, and phase 2 waits until it is gone:
// its snapshot, if any, is saved by then, is not among the plan's
// snapshots, and is walked, so the packs it needs are indexed again.
// Snapshots saved between the plan and the swap are walked the same way.
// Two prunes never overlap (prune locks conflict), and restic's prune,
// repair and rebuild-index take exclusive locks, which exclude a cairn
// prune; what they do between the phases (delete the condemned packs as
// unreferenced, or index them again) leaves a record whose packs are gone
// or indexed, which phase 2 skips.
//
// Between the phases, restic check reports the condemned packs as
// unreferenced (a hint), and cairn check names the pending records.
// Until a holder's record is finished, a snapshot such a holder saved may
// reference blobs only the condemned packs hold; checks report those
// until phase 2 indexes them again, and a prune in between counts them as
// provided by the record.
//
// # Crash points
//
// Stopped in step 3 or 4, a prune leaves new packs and index files that
// only duplicate blobs; in 5, extra index files that name packs that stay;
// in 6 or 7, an R1 that the next phase 2 confirms; in 8, an R1 and maybe
// an R2 of the same swap (both are finished; deleting a pack twice is
// harmless). Stopped in phase 2, it leaves packs indexed again, some
// condemned packs deleted, or a record whose packs are all gone: the next
// run repeats the decision on what is left. In no state is a pack deleted
// that an index names, or a pack whose blobs a snapshot may need without
// phase 2 having seen that snapshot.
//
// # One phase (exclusive)
//
// Under an exclusive lock nothing else runs: pending records are finished
// without waiting, unreferenced packs are deleted first, and after the
// swap the condemned packs are deleted at once, as restic does. Where a
// blob exists in several packs the copy in the most used pack counts, so
// that old packs whose blobs were already repacked come out unused.
package prune
