package main

import (
	"context"
	"errors"
	"strings"

	"github.com/cairn-backup/cairn/internal/lock"
	"github.com/cairn-backup/cairn/internal/repository"
)

// Exit codes, as restic's.
const (
	exitOK          = 0
	exitFatal       = 1
	exitIncomplete  = 3
	exitNoRepo      = 10
	exitLocked      = 11
	exitWrongPass   = 12
	exitInterrupted = 130
)

// exitError carries an explicit exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExit marks err with an exit code.
func withExit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, repository.ErrNoKeyFound):
		return exitWrongPass
	case errors.Is(err, repository.ErrNotExist):
		return exitNoRepo
	case errors.Is(err, lock.ErrLocked):
		return exitLocked
	}
	return exitFatal
}

// errorLine formats err as a single line for the terminal.
func errorLine(err error) string {
	// cobra's unknown-command error keeps its lines, as restic prints it:
	// no "Fatal:", the suggestions on lines of their own.
	if msg := err.Error(); strings.HasPrefix(msg, "unknown command ") {
		return msg
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	return "Fatal: " + msg
}
