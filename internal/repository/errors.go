package repository

import (
	"errors"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Conditions callers branch on (the command layer maps them to exit codes).
var (
	// ErrNoKeyFound means no key file opened with the given password.
	ErrNoKeyFound = errors.New("wrong password or no key found")
	// ErrNotExist means there is no repository at the location.
	ErrNotExist = errors.New("repository does not exist")
	// ErrInvalidData marks repository bytes that fail to decode or verify.
	ErrInvalidData = errors.New("invalid data")
	// ErrAlreadyInitialized means init found an existing repository.
	ErrAlreadyInitialized = errors.New("repository already initialized")
)

func backendNotExist(err error) bool { return errors.Is(err, backend.ErrNotExist) }
