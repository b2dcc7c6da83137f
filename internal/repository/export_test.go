package repository

import "github.com/cairn-backup/cairn/internal/backend"

// Backend returns the backend the repository is stored on. It exists for
// this package's tests only: everything else goes through the
// repository's methods.
func (r *Repository) Backend() backend.Backend { return r.be }
