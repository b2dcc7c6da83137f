// Package checker verifies a repository without changing it, in the phases
// restic's check runs:
//
//  1. [Checker.LoadIndex] reads every index file; one that cannot be read
//     or decoded is reported by ID, and the others are used.
//  2. [Checker.Packs] compares the index with the pack files in the
//     backend: missing packs, packs no index names, sizes the index does
//     not predict, and pack headers that list other blobs than the index.
//  3. [Checker.Structure] loads every snapshot and walks every tree they
//     reach, each tree once, and reports trees that cannot be loaded and
//     blobs that the index does not know, with the paths and snapshots
//     that use them.
//  4. [Checker.ReadPacks] reads packs in full: the file must hash to its
//     name and every blob must decrypt, decompress and hash to its ID.
//
// What a phase finds is passed to a report function as a [Finding]; a
// finding of severity [Error] means the repository is damaged, a [Hint]
// means it is merely untidy. The package prints nothing.
package checker
