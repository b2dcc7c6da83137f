// Package diff computes what changed from one snapshot's directory tree to
// another's: the changed paths in name order, and counts of the entries
// and blobs only one side has. It returns data; the diff command prints it.
//
// Directories with the same tree ID in both are not compared, only walked
// once to learn the blobs both sides share, so that the counts of added and
// removed blobs leave those out.
package diff
