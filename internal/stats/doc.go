// Package stats counts the files and bytes of snapshots in the four modes
// of restic's stats command (restore-size, files-by-contents, raw-data,
// blobs-per-file), giving the numbers restic 0.14 gives. It returns the
// totals; the stats command prints them.
package stats
