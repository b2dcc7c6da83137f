// Package pack reads and writes restic pack files.
//
// # Layout
//
// A pack is a sequence of independently encrypted blobs followed by an
// encrypted header and the header's length:
//
//	blob_1 || … || blob_n || encrypted header || uint32 LE header length
//
// The length counts the encrypted header only (IV, ciphertext and MAC), not
// the four length bytes themselves.
//
// # Header
//
// The plaintext header is a plain concatenation of entries, one per blob in
// file order, with no count or framing. An entry starts with a type byte:
//
//	0  data blob, uncompressed  len_enc u32le · id[32]                 37 bytes
//	1  tree blob, uncompressed  len_enc u32le · id[32]                 37 bytes
//	2  data blob, zstd          len_enc u32le · len_plain u32le · id   41 bytes
//	3  tree blob, zstd          len_enc u32le · len_plain u32le · id   41 bytes
//
// Offsets are not stored: a blob starts where the previous one ends. len_enc
// is the stored length including the 32 bytes of crypto overhead, len_plain
// the length after decryption and decompression, and id the SHA-256 of that
// plaintext.
//
// # Scope
//
// The package knows the container only. It does not compress, hash or
// verify blob contents, and it does not keep data and tree blobs apart; the
// repository does all of that before it hands sealed blobs to a [Writer].
package pack
