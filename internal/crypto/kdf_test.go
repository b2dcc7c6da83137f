package crypto_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/crypto"
)

// fastParams keep derivation quick in tests.
var fastParams = crypto.Params{N: 1 << 10, R: 8, P: 1}

func TestDerive(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, crypto.SaltSize)
	otherSalt := bytes.Repeat([]byte{8}, crypto.SaltSize)
	derive := func(p crypto.Params, salt []byte, password string) *crypto.Key {
		t.Helper()
		k, err := crypto.Derive(p, salt, []byte(password))
		if err != nil {
			t.Fatalf("Derive(%+v, salt, %q) = %v, want nil", p, password, err)
		}
		return k
	}
	same := func(a, b *crypto.Key) bool { return a.EncryptionKey == b.EncryptionKey && a.MAC == b.MAC }

	a := derive(fastParams, salt, "secret")
	if b := derive(fastParams, salt, "secret"); !same(a, b) {
		t.Errorf("Derive twice with the same inputs gave different keys")
	}
	if got, err := a.Open(nil, derive(fastParams, salt, "secret").Seal(nil, []byte("x"))); err != nil || string(got) != "x" {
		t.Errorf("Open(Seal(%q)) across two derivations = %q, %v, want %q, nil", "x", got, err, "x")
	}
	for name, b := range map[string]*crypto.Key{
		"password": derive(fastParams, salt, "Secret"),
		"salt":     derive(fastParams, otherSalt, "secret"),
		"N":        derive(crypto.Params{N: 1 << 11, R: 8, P: 1}, salt, "secret"),
	} {
		if same(a, b) {
			t.Errorf("Derive with a different %s gave the same key", name)
		}
	}
}

func TestDeriveRejects(t *testing.T) {
	tests := []struct {
		name   string
		params crypto.Params
		salt   int
	}{
		{"empty salt", fastParams, 0},
		{"short salt", fastParams, crypto.SaltSize - 1},
		{"long salt", fastParams, crypto.SaltSize + 1},
		{"32-byte salt", fastParams, 32},
		{"bad params", crypto.Params{N: 3, R: 8, P: 1}, crypto.SaltSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := crypto.Derive(tt.params, make([]byte, tt.salt), []byte("pw"))
			if !errors.Is(err, crypto.ErrBadParams) || k != nil {
				t.Errorf("Derive(%+v, %d-byte salt) = %v, %v, want nil, ErrBadParams", tt.params, tt.salt, k, err)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name    string
		params  crypto.Params
		wantErr bool
	}{
		{"default", crypto.DefaultParams, false},
		{"smallest", crypto.Params{N: 2, R: 1, P: 1}, false},
		{"largest memory", crypto.Params{N: 1 << 21, R: 8, P: 1}, false},
		{"N=0", crypto.Params{N: 0, R: 8, P: 1}, true},
		{"N=1", crypto.Params{N: 1, R: 8, P: 1}, true},
		{"N negative", crypto.Params{N: -16384, R: 8, P: 1}, true},
		{"N not power of 2", crypto.Params{N: 16383, R: 8, P: 1}, true},
		{"N=3", crypto.Params{N: 3, R: 8, P: 1}, true},
		{"r=0", crypto.Params{N: 16384, R: 0, P: 1}, true},
		{"r negative", crypto.Params{N: 16384, R: -1, P: 1}, true},
		{"p=0", crypto.Params{N: 16384, R: 8, P: 0}, true},
		{"r*p too large", crypto.Params{N: 2, R: 1 << 15, P: 1 << 15}, true},
		{"huge memory", crypto.Params{N: 1 << 22, R: 8, P: 1}, true},
		{"memory overflows uint64", crypto.Params{N: 1 << 62, R: 1 << 10, P: 1}, true},
		{"r*p and memory overflow", crypto.Params{N: 2, R: 1 << 57, P: 1 << 7}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.params.Validate()
			if tt.wantErr && !errors.Is(err, crypto.ErrBadParams) {
				t.Errorf("%+v.Validate() = %v, want ErrBadParams", tt.params, err)
			}
			if !tt.wantErr && err != nil {
				t.Errorf("%+v.Validate() = %v, want nil", tt.params, err)
			}
		})
	}
}

func TestCalibrate(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		maxMem  int
		wantN   int // 0: only check the invariants
	}{
		{"short timeout", time.Millisecond, 1 << 30, crypto.DefaultParams.N},
		{"memory below default", time.Hour, 1 << 20, crypto.DefaultParams.N},
		{"memory bound", time.Hour, 64 << 20, 1 << 16},
		{"memory beyond what Validate allows", time.Hour, 1 << 40, 1 << 21},
		{"realistic", 50 * time.Millisecond, 1 << 30, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := crypto.Calibrate(tt.timeout, tt.maxMem)
			if p.N < crypto.DefaultParams.N || p.N&(p.N-1) != 0 {
				t.Errorf("Calibrate(%v, %d).N = %d, want a power of two >= %d", tt.timeout, tt.maxMem, p.N, crypto.DefaultParams.N)
			}
			if tt.wantN != 0 && p.N != tt.wantN {
				t.Errorf("Calibrate(%v, %d).N = %d, want %d", tt.timeout, tt.maxMem, p.N, tt.wantN)
			}
			if p.R != crypto.DefaultParams.R || p.P != crypto.DefaultParams.P {
				t.Errorf("Calibrate(%v, %d) = %+v, want R and P of %+v", tt.timeout, tt.maxMem, p, crypto.DefaultParams)
			}
			if err := p.Validate(); err != nil {
				t.Errorf("Calibrate(%v, %d).Validate() = %v, want nil", tt.timeout, tt.maxMem, err)
			}
		})
	}
}
