package crypto

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/scrypt"
)

// SaltSize is the only salt length restic accepts.
const SaltSize = 64

// Params are scrypt cost parameters as stored in a key file.
type Params struct {
	N, R, P int
}

// DefaultParams are the weakest parameters a new key ever gets
// (simple-scrypt's defaults, which restic also never goes below).
var DefaultParams = Params{N: 1 << 14, R: 8, P: 1}

// maxMemory bounds what a key file may make us allocate: scrypt needs
// 128·r·N bytes for its table and 128·r·p for its blocks.
const maxMemory = 1 << 31

// ErrBadParams is wrapped by [Params.Validate] errors.
var ErrBadParams = errors.New("invalid scrypt parameters")

// Validate rejects parameters that scrypt refuses or that would make a
// hostile key file exhaust memory.
func (p Params) Validate() error {
	switch {
	case p.N <= 1 || p.N&(p.N-1) != 0:
		return fmt.Errorf("%w: N=%d is not a power of two above 1", ErrBadParams, p.N)
	case p.R <= 0 || p.P <= 0 || uint64(p.R)*uint64(p.P) >= 1<<30:
		return fmt.Errorf("%w: r=%d p=%d", ErrBadParams, p.R, p.P)
	case uint64(p.N) > maxMemory/128/uint64(p.R): // 128·r·N > maxMemory without overflow
		return fmt.Errorf("%w: N=%d r=%d needs more than %d bytes", ErrBadParams, p.N, p.R, maxMemory)
	case uint64(p.P) > maxMemory/128/uint64(p.R): // 128·r·p > maxMemory
		return fmt.Errorf("%w: p=%d r=%d needs more than %d bytes", ErrBadParams, p.P, p.R, maxMemory)
	}
	return nil
}

// Derive turns a password into a user key with scrypt (64 bytes of output:
// encryption key, MAC k, MAC r).
func Derive(p Params, salt, password []byte) (*Key, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(salt) != SaltSize {
		return nil, fmt.Errorf("%w: salt is %d bytes, want %d", ErrBadParams, len(salt), SaltSize)
	}
	b, err := scrypt.Key(password, salt, p.N, p.R, p.P, 64)
	if err != nil {
		return nil, fmt.Errorf("scrypt: %w", err)
	}
	return newKey(b)
}

// Calibrate picks parameters for a new key: the largest N (doubling from
// [DefaultParams]) whose derivation is expected to take at most timeout and
// to use at most maxMem bytes. It measures one derivation.
func Calibrate(timeout time.Duration, maxMem int) Params {
	p := DefaultParams
	salt := make([]byte, SaltSize)
	start := time.Now()
	if _, err := scrypt.Key([]byte("calibrate"), salt, p.N, p.R, p.P, 64); err != nil {
		return p
	}
	took := time.Since(start)
	for took*2 <= timeout && 128*p.R*p.N*2 <= min(maxMem, maxMemory) {
		p.N *= 2
		took *= 2
	}
	return p
}
