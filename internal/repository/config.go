package repository

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/restic/chunker"
)

// Repository format versions this package can read; new repositories get
// [DefaultVersion].
const (
	MinVersion     = 1
	MaxVersion     = 2
	DefaultVersion = 2
)

// Config is the decrypted content of the config file.
type Config struct {
	Version           uint        `json:"version"`
	ID                string      `json:"id"`
	ChunkerPolynomial chunker.Pol `json:"chunker_polynomial"`
}

// NewConfig returns a config with a random ID. A zero pol gets a fresh
// random irreducible polynomial.
func NewConfig(version uint, pol chunker.Pol) (Config, error) {
	if version < MinVersion || version > MaxVersion {
		return Config{}, fmt.Errorf("unsupported repository version %d (supported: %d to %d)", version, MinVersion, MaxVersion)
	}
	if pol == 0 {
		var err error
		if pol, err = chunker.RandomPolynomial(); err != nil {
			return Config{}, fmt.Errorf("chunker polynomial: %w", err)
		}
	}
	var rid [32]byte
	if _, err := rand.Read(rid[:]); err != nil {
		return Config{}, fmt.Errorf("repository id: %w", err)
	}
	cfg := Config{Version: version, ID: hex.EncodeToString(rid[:]), ChunkerPolynomial: pol}
	return cfg, cfg.Validate()
}

// ParseConfig decodes and validates the JSON plaintext of a config file.
func ParseConfig(plaintext []byte) (Config, error) {
	var cfg Config
	if err := json.Unmarshal(plaintext, &cfg); err != nil {
		return Config{}, fmt.Errorf("%w: config: %v", ErrInvalidData, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks the version, the ID and that the polynomial is one the
// chunker can use (irreducible, degree 53 as restic generates).
func (c Config) Validate() error {
	if c.Version < MinVersion || c.Version > MaxVersion {
		return fmt.Errorf("%w: config: unsupported repository version %d", ErrInvalidData, c.Version)
	}
	if len(c.ID) != 64 {
		return fmt.Errorf("%w: config: repository id %q is not 64 hex digits", ErrInvalidData, c.ID)
	}
	if _, err := hex.DecodeString(c.ID); err != nil {
		return fmt.Errorf("%w: config: repository id %q is not hex", ErrInvalidData, c.ID)
	}
	if c.ChunkerPolynomial.Deg() != 53 || !c.ChunkerPolynomial.Irreducible() {
		return fmt.Errorf("%w: config: chunker polynomial %v is not an irreducible polynomial of degree 53", ErrInvalidData, c.ChunkerPolynomial)
	}
	return nil
}
