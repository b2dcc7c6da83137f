// Package prune removes data no snapshot needs from a repository: pack
// files whose blobs are all unused are deleted, and packs that are only
// partly used (or small, mixed or uncompressed) are repacked: their
// needed blobs are written into new packs and the old packs deleted.
//
// # Order of operations
//
// Prune runs under an exclusive lock, in this order, so that the
// repository is valid if it stops at any point:
//
//  1. Stale temporary files (local backend, older than an hour) and packs
//     no index file names are deleted. Nothing refers to them.
//  2. Needed blobs of the packs to repack are written into new packs,
//     and index files for the new packs are written. Until then the new
//     packs are unreferenced garbage; afterwards some blobs exist twice,
//     which is allowed.
//  3. New index files are written for every pack that stays (the new
//     ones included), split at 50 000 blobs.
//  4. The old index files are deleted. Packs still named by an old file
//     are named by a new one too, or are about to be deleted.
//  5. The packs to delete (unused and repacked ones) are deleted. They
//     are no longer indexed, so a stop here leaves only unreferenced
//     packs.
//
// The next run tidies what an interrupted one left: unreferenced packs
// go in step 1, and where a blob exists in several packs the copy in the
// most used pack counts, so that old packs whose blobs were already
// repacked come out unused and are deleted.
//
// # Unreferenced packs
//
// Packs no index file names are deleted at once, whatever their age, as
// restic does: every writer (backup, copy, ...) holds a lock while it
// writes packs and their index, and prune's exclusive lock excludes all of
// them, so an unindexed pack is always the leftover of a process that
// died. Temporary files get an hour's grace instead, because deleting one
// while a writer that (wrongly) holds no lock fills it would fail that
// writer, and an hour-old temporary file is dead anyway.
package prune
