package repository

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/id"
)

// ErrKeyInUse is returned by [Repository.RemoveKey] for the key the
// repository was opened with.
var ErrKeyInUse = errors.New("refusing to remove the key currently in use")

// ListKeys calls fn for every key file, in the backend's order, with its
// ID and either its decoded contents or the error loading it. Files whose
// names are not IDs are skipped. An error from fn stops the listing and is
// returned.
func (r *Repository) ListKeys(ctx context.Context, fn func(kid id.ID, kf *KeyFile, err error) error) error {
	return r.be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		kid, err := id.Parse(fi.Name)
		if err != nil {
			return nil
		}
		kf, err := LoadKeyFile(ctx, r.be, kid)
		return fn(kid, kf, err)
	})
}

// LoadKey returns the decoded key file kid.
func (r *Repository) LoadKey(ctx context.Context, kid id.ID) (*KeyFile, error) {
	return LoadKeyFile(ctx, r.be, kid)
}

// AddKey saves a new key file that opens the repository's master key
// with password, recording username and hostname, and returns its ID.
func (r *Repository) AddKey(ctx context.Context, password, username, hostname string, kp *KeyParams) (id.ID, error) {
	return AddKey(ctx, r.be, password, username, hostname, r.key, kp)
}

// RemoveKey deletes the key file kid; not the one in use ([ErrKeyInUse]).
func (r *Repository) RemoveKey(ctx context.Context, kid id.ID) error {
	if kid == r.keyID {
		return ErrKeyInUse
	}
	if err := r.RemoveFile(ctx, backend.KeyFile, kid); err != nil {
		return fmt.Errorf("remove key %v: %w", kid.Str(), err)
	}
	return nil
}

// ChangePassword replaces the key in use by a new one for password: it
// saves the new key file, then removes the old one, and returns the new
// key's ID. The repository keeps using the key it was opened with.
func (r *Repository) ChangePassword(ctx context.Context, password, username, hostname string, kp *KeyParams) (id.ID, error) {
	kid, err := r.AddKey(ctx, password, username, hostname, kp)
	if err != nil {
		return id.ID{}, err
	}
	if err := r.RemoveFile(ctx, backend.KeyFile, r.keyID); err != nil {
		return kid, fmt.Errorf("new key %v saved, but removing the old key %v failed: %w", kid.Str(), r.keyID.Str(), err)
	}
	return kid, nil
}
