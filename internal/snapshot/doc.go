// Package snapshot holds restic's snapshot record: its JSON form, loading
// all snapshots of a repository, resolving a snapshot reference, and the
// host/tag/path filters and grouping used by the snapshots, forget and
// backup commands.
//
// # Format
//
// A snapshot file holds one JSON object (restic's design doc, section
// "Snapshots"), encoded with Go's json.Marshal and no trailing newline. The
// keys appear in the order of the fields of [Snapshot]; readers ignore
// unknown keys. The snapshot's ID is the storage ID of its file, so any
// change to a snapshot gives it a new ID.
//
// The package sees a repository only through the small [Repository]
// interface; decryption and decompression of the file happen there.
package snapshot
