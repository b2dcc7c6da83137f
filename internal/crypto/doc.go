// Package crypto implements restic's authenticated encryption and its
// scrypt-based key derivation.
//
// # Construction
//
// Every encrypted object is IV(16) || AES-256-CTR ciphertext || MAC(16). The
// MAC is Poly1305-AES over the ciphertext only: the one-time Poly1305 key is
// r || AES-128_k(IV), where k and r make up the [MACKey]. r is clamped when
// used, so master keys written with clamped and with unclamped r both work.
//
// # Keys
//
// A [Key] is the repository master key (or a user key derived from a
// password with [Derive]). Its JSON form is the one restic prints for
// `cat masterkey`: {"mac":{"k":…,"r":…},"encrypt":…}.
package crypto
