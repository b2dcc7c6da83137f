package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/poly1305" //nolint:staticcheck // restic's format is defined on Poly1305-AES; the package is frozen, not broken.
)

const (
	ivSize  = aes.BlockSize
	macSize = poly1305.TagSize
	// Overhead is the number of bytes encryption adds to a plaintext.
	Overhead = ivSize + macSize
)

// ErrUnauthenticated is returned by [Key.Open] when the MAC does not match:
// the bytes are corrupt or were encrypted under another key.
var ErrUnauthenticated = errors.New("ciphertext verification failed")

// ErrInvalidKey is returned for keys whose parts are all zero or malformed.
var ErrInvalidKey = errors.New("invalid key")

// MACKey holds the two parts of a Poly1305-AES key.
type MACKey struct {
	K [16]byte // AES-128 key that turns the IV into s
	R [16]byte // Poly1305 r, clamped or not
}

// Key is an encryption key plus a MAC key. Build it with [NewRandomKey],
// [Derive] or JSON decoding; the zero value is not usable. A Key is safe for
// concurrent use.
type Key struct {
	EncryptionKey [32]byte
	MAC           MACKey

	enc cipher.Block // AES-256 with EncryptionKey
	mac cipher.Block // AES-128 with MAC.K
}

// NewRandomKey returns a key made from the system's random source, with r
// stored clamped so that every restic version computes the same MAC.
func NewRandomKey() (*Key, error) {
	var k Key
	if _, err := rand.Read(k.EncryptionKey[:]); err != nil {
		return nil, fmt.Errorf("random key: %w", err)
	}
	if _, err := rand.Read(k.MAC.K[:]); err != nil {
		return nil, fmt.Errorf("random key: %w", err)
	}
	if _, err := rand.Read(k.MAC.R[:]); err != nil {
		return nil, fmt.Errorf("random key: %w", err)
	}
	clamp(&k.MAC.R)
	return &k, k.init()
}

// newKey builds a key from 64 bytes: encryption key, MAC k, MAC r.
func newKey(b []byte) (*Key, error) {
	var k Key
	copy(k.EncryptionKey[:], b[:32])
	copy(k.MAC.K[:], b[32:48])
	copy(k.MAC.R[:], b[48:64])
	return &k, k.init()
}

func clamp(r *[16]byte) {
	r[3] &= 0x0f
	r[7] &= 0x0f
	r[11] &= 0x0f
	r[15] &= 0x0f
	r[4] &= 0xfc
	r[8] &= 0xfc
	r[12] &= 0xfc
}

func (k *Key) init() error {
	if k.EncryptionKey == [32]byte{} || k.MAC.K == [16]byte{} || k.MAC.R == [16]byte{} {
		return ErrInvalidKey
	}
	var err error
	if k.enc, err = aes.NewCipher(k.EncryptionKey[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if k.mac, err = aes.NewCipher(k.MAC.K[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return nil
}

func (k *Key) tag(out *[macSize]byte, iv, ciphertext []byte) {
	var otk [32]byte
	copy(otk[:16], k.MAC.R[:])
	clamp((*[16]byte)(otk[:16]))
	k.mac.Encrypt(otk[16:], iv)
	poly1305.Sum(out, ciphertext, &otk)
}

// Seal encrypts plaintext under a fresh random IV and appends
// IV || ciphertext || MAC to dst. dst and plaintext must not overlap.
func (k *Key) Seal(dst, plaintext []byte) []byte {
	n := len(dst)
	out := grow(dst, Overhead+len(plaintext))
	iv := out[n : n+ivSize]
	if _, err := rand.Read(iv); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+).
		panic("crypto/rand: " + err.Error())
	}
	ct := out[n+ivSize : n+ivSize+len(plaintext)]
	cipher.NewCTR(k.enc, iv).XORKeyStream(ct, plaintext)
	var mac [macSize]byte
	k.tag(&mac, iv, ct)
	copy(out[n+ivSize+len(plaintext):], mac[:])
	return out
}

// Open checks the MAC of IV || ciphertext || MAC and appends the plaintext
// to dst. It returns [ErrUnauthenticated] for any damaged or foreign input
// and never decrypts unauthenticated bytes. dst must not overlap ciphertext;
// use [Key.OpenInPlace] to decrypt without a second buffer.
func (k *Key) Open(dst, ciphertext []byte) ([]byte, error) {
	iv, ct, err := k.verify(ciphertext)
	if err != nil {
		return nil, err
	}
	n := len(dst)
	out := grow(dst, len(ct))
	cipher.NewCTR(k.enc, iv).XORKeyStream(out[n:], ct)
	return out, nil
}

// OpenInPlace is [Key.Open] that decrypts inside ciphertext and returns the
// plaintext as a sub-slice of it. On error ciphertext is unchanged.
func (k *Key) OpenInPlace(ciphertext []byte) ([]byte, error) {
	iv, ct, err := k.verify(ciphertext)
	if err != nil {
		return nil, err
	}
	cipher.NewCTR(k.enc, iv).XORKeyStream(ct, ct)
	return ct, nil
}

func (k *Key) verify(ciphertext []byte) (iv, ct []byte, err error) {
	if len(ciphertext) < Overhead {
		return nil, nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte overhead", ErrUnauthenticated, len(ciphertext), Overhead)
	}
	iv = ciphertext[:ivSize]
	if [ivSize]byte(iv) == [ivSize]byte{} {
		return nil, nil, fmt.Errorf("%w: all-zero IV", ErrUnauthenticated)
	}
	ct = ciphertext[ivSize : len(ciphertext)-macSize]
	var mac [macSize]byte
	k.tag(&mac, iv, ct)
	if subtle.ConstantTimeCompare(mac[:], ciphertext[len(ciphertext)-macSize:]) != 1 {
		return nil, nil, ErrUnauthenticated
	}
	return iv, ct, nil
}

// grow extends b by n bytes, reallocating if needed.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, len(b)+n+n/8)
	copy(nb, b)
	return nb
}

type jsonMAC struct {
	K []byte `json:"k"`
	R []byte `json:"r"`
}

type jsonKey struct {
	MAC     jsonMAC `json:"mac"`
	Encrypt []byte  `json:"encrypt"`
}

// MarshalJSON encodes k as restic's master key JSON.
func (k *Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonKey{
		MAC:     jsonMAC{K: k.MAC.K[:], R: k.MAC.R[:]},
		Encrypt: k.EncryptionKey[:],
	})
}

// UnmarshalJSON decodes restic's master key JSON and checks the key sizes.
func (k *Key) UnmarshalJSON(b []byte) error {
	var j jsonKey
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if len(j.MAC.K) != 16 || len(j.MAC.R) != 16 || len(j.Encrypt) != 32 {
		return fmt.Errorf("%w: wrong key part lengths", ErrInvalidKey)
	}
	*k = Key{}
	copy(k.MAC.K[:], j.MAC.K)
	copy(k.MAC.R[:], j.MAC.R)
	copy(k.EncryptionKey[:], j.Encrypt)
	return k.init()
}

// sealChunk is how much SealTo encrypts at a time.
const sealChunk = 256 << 10

// SealTo encrypts plaintext like [Key.Seal] but writes IV || ciphertext ||
// MAC to w piece by piece, so that sealing a large blob needs no buffer of
// its size. scratch, if at least 256 KiB, is used as the work buffer. It
// returns the number of bytes written (len(plaintext) + Overhead on
// success).
func (k *Key) SealTo(w io.Writer, plaintext, scratch []byte) (int, error) {
	var iv [ivSize]byte
	if _, err := rand.Read(iv[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	var otk [32]byte
	copy(otk[:16], k.MAC.R[:])
	clamp((*[16]byte)(otk[:16]))
	k.mac.Encrypt(otk[16:], iv[:])
	mac := poly1305.New(&otk)
	stream := cipher.NewCTR(k.enc, iv[:])
	if cap(scratch) < sealChunk {
		scratch = make([]byte, sealChunk)
	}
	scratch = scratch[:cap(scratch)]
	n, err := w.Write(iv[:])
	if err != nil {
		return n, err
	}
	for len(plaintext) > 0 {
		m := min(len(plaintext), len(scratch))
		stream.XORKeyStream(scratch[:m], plaintext[:m])
		_, _ = mac.Write(scratch[:m])
		c, err := w.Write(scratch[:m])
		n += c
		if err != nil {
			return n, err
		}
		plaintext = plaintext[m:]
	}
	c, err := w.Write(mac.Sum(nil))
	return n + c, err
}
