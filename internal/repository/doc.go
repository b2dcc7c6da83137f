// Package repository reads and writes restic repositories on top of a
// [backend.Backend]. Design reference: restic's doc/design.rst, summarised
// in ../shared/docs/restic-format.md of this project's workspace.
//
// # Model
//
//   - Files: config, keys, locks, snapshots, index and pack files. Every
//     file but config is named by the SHA-256 of its stored bytes.
//   - Keys: a key file wraps the random master key under a password-derived
//     key (scrypt). Several key files may wrap the same master key.
//   - Unpacked files (config, index, snapshots, locks) are one encrypted
//     JSON document; in version 2 repositories all but config are zstd
//     compressed with a leading 0x02 byte.
//   - Blobs are encrypted (and in v2 optionally compressed) chunks of file
//     data or tree JSON, stored back to back in pack files whose encrypted
//     header lists them; index files map blob IDs to pack positions.
//
// Write order is packs, then index, then snapshot; readers go the other way.
package repository
