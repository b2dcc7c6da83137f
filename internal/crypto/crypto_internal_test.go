package crypto

import (
	"crypto/cipher"
	"errors"
	"testing"
)

// TestOpenRejectsZeroIV checks that an all-zero IV is refused even when the
// MAC over it is valid, which only code holding the key can produce.
func TestOpenRejectsZeroIV(t *testing.T) {
	k, err := NewRandomKey()
	if err != nil {
		t.Fatalf("NewRandomKey() = %v, want nil", err)
	}
	plaintext := []byte("zero IV")
	buf := make([]byte, Overhead+len(plaintext))
	iv, ct := buf[:ivSize], buf[ivSize:ivSize+len(plaintext)]
	cipher.NewCTR(k.enc, iv).XORKeyStream(ct, plaintext)
	var mac [macSize]byte
	k.tag(&mac, iv, ct)
	copy(buf[ivSize+len(plaintext):], mac[:])

	if got, err := k.Open(nil, buf); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Open(zero IV, valid MAC) = %q, %v, want nil, ErrUnauthenticated", got, err)
	}

	// The same bytes under a non-zero IV are accepted, so the MAC was right.
	iv[0] = 1
	cipher.NewCTR(k.enc, iv).XORKeyStream(ct, plaintext)
	k.tag(&mac, iv, ct)
	copy(buf[ivSize+len(plaintext):], mac[:])
	if got, err := k.Open(nil, buf); err != nil || string(got) != string(plaintext) {
		t.Errorf("Open(non-zero IV) = %q, %v, want %q, nil", got, err, plaintext)
	}
}
