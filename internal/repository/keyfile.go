package repository

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
)

// maxKeys is how many key files a password is tried against, as in restic.
const maxKeys = 20

// KeyFile is the JSON of a file under keys/. It is not encrypted; Data is
// the master key sealed with the key derived from the password.
type KeyFile struct {
	Created  time.Time `json:"created"`
	Username string    `json:"username"`
	Hostname string    `json:"hostname"`
	KDF      string    `json:"kdf"`
	N        int       `json:"N"`
	R        int       `json:"r"`
	P        int       `json:"p"`
	Salt     []byte    `json:"salt"`
	Data     []byte    `json:"data"`
}

// DecodeKeyFile parses and validates a key file without deriving anything.
func DecodeKeyFile(raw []byte) (*KeyFile, error) {
	var kf KeyFile
	if err := json.Unmarshal(raw, &kf); err != nil {
		return nil, fmt.Errorf("%w: key file: %v", ErrInvalidData, err)
	}
	if kf.KDF != "scrypt" {
		return nil, fmt.Errorf("%w: key file: unknown kdf %q", ErrInvalidData, kf.KDF)
	}
	if len(kf.Salt) != crypto.SaltSize {
		return nil, fmt.Errorf("%w: key file: salt is %d bytes, want %d", ErrInvalidData, len(kf.Salt), crypto.SaltSize)
	}
	if err := (crypto.Params{N: kf.N, R: kf.R, P: kf.P}).Validate(); err != nil {
		return nil, fmt.Errorf("%w: key file: %v", ErrInvalidData, err)
	}
	if len(kf.Data) < crypto.Overhead {
		return nil, fmt.Errorf("%w: key file: data is %d bytes", ErrInvalidData, len(kf.Data))
	}
	return &kf, nil
}

// Unlock derives the user key from password and returns the master key. A
// wrong password gives an error matching crypto.ErrUnauthenticated.
func (kf *KeyFile) Unlock(password string) (*crypto.Key, error) {
	user, err := crypto.Derive(crypto.Params{N: kf.N, R: kf.R, P: kf.P}, kf.Salt, []byte(password))
	if err != nil {
		return nil, err
	}
	plain, err := user.Open(nil, kf.Data)
	if err != nil {
		return nil, err
	}
	var master crypto.Key
	if err := json.Unmarshal(plain, &master); err != nil {
		return nil, fmt.Errorf("%w: master key: %v", ErrInvalidData, err)
	}
	return &master, nil
}

// KeyParams are the scrypt parameters for keys this process writes. The
// zero value calibrates once on first use.
type KeyParams struct {
	params *crypto.Params
}

// FixedKeyParams returns parameters that skip calibration. It exists for
// tests, where a weak key keeps each process start cheap.
func FixedKeyParams(n, r, p int) (*KeyParams, error) {
	cp := crypto.Params{N: n, R: r, P: p}
	if err := cp.Validate(); err != nil {
		return nil, err
	}
	return &KeyParams{params: &cp}, nil
}

func (k *KeyParams) get() crypto.Params {
	if k.params == nil {
		p := crypto.Calibrate(500*time.Millisecond, 60<<20)
		k.params = &p
	}
	return *k.params
}

// AddKey writes a new key file that wraps master under password and
// returns its ID.
func AddKey(ctx context.Context, be backend.Backend, password, username, hostname string, master *crypto.Key, kp *KeyParams) (id.ID, error) {
	p := kp.get()
	kf := KeyFile{
		Created:  time.Now(),
		Username: username,
		Hostname: hostname,
		KDF:      "scrypt",
		N:        p.N, R: p.R, P: p.P,
		Salt: make([]byte, crypto.SaltSize),
	}
	if _, err := rand.Read(kf.Salt); err != nil {
		return id.ID{}, fmt.Errorf("salt: %w", err)
	}
	user, err := crypto.Derive(p, kf.Salt, []byte(password))
	if err != nil {
		return id.ID{}, err
	}
	mk, err := json.Marshal(master)
	if err != nil {
		return id.ID{}, err
	}
	kf.Data = user.Seal(nil, mk)
	raw, err := json.Marshal(kf)
	if err != nil {
		return id.ID{}, err
	}
	kid := id.Hash(raw)
	if err := be.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: kid.String()}, backend.NewByteReader(raw)); err != nil {
		return id.ID{}, fmt.Errorf("save key: %w", err)
	}
	return kid, nil
}

// LoadKeyFile reads and decodes one key file, checking its name.
func LoadKeyFile(ctx context.Context, be backend.Backend, kid id.ID) (*KeyFile, error) {
	raw, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.KeyFile, Name: kid.String()})
	if err != nil {
		return nil, fmt.Errorf("load key %v: %w", kid.Str(), err)
	}
	if id.Hash(raw) != kid {
		return nil, fmt.Errorf("%w: key %v: content does not match its name", ErrInvalidData, kid.Str())
	}
	kf, err := DecodeKeyFile(raw)
	if err != nil {
		return nil, fmt.Errorf("key %v: %w", kid.Str(), err)
	}
	return kf, nil
}

// SearchKey tries password against the key files (hint first, if set; at
// most 20 others) and returns the master key and the ID of the key file that
// opened. It fails with ErrNoKeyFound, joined with the reasons any key file
// could not be read.
func SearchKey(ctx context.Context, be backend.Backend, password, hint string) (*crypto.Key, id.ID, error) {
	var ids []id.ID
	err := be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		kid, err := id.Parse(fi.Name)
		if err != nil {
			return nil // not a key file
		}
		if hint != "" && len(hint) <= len(fi.Name) && fi.Name[:len(hint)] == hint {
			ids = append([]id.ID{kid}, ids...)
		} else {
			ids = append(ids, kid)
		}
		return nil
	})
	if err != nil {
		return nil, id.ID{}, fmt.Errorf("list keys: %w", err)
	}
	if len(ids) > maxKeys {
		ids = ids[:maxKeys]
	}
	var problems []error
	for _, kid := range ids {
		if err := ctx.Err(); err != nil {
			return nil, id.ID{}, err
		}
		kf, err := LoadKeyFile(ctx, be, kid)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		master, err := kf.Unlock(password)
		if errors.Is(err, crypto.ErrUnauthenticated) {
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("key %v: %w", kid.Str(), err))
			continue
		}
		return master, kid, nil
	}
	return nil, id.ID{}, errors.Join(append([]error{ErrNoKeyFound}, problems...)...)
}
