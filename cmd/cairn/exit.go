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

// warningError is an exit reason restic prints as it is ("Warning: ..."),
// not as a fatal error.
type warningError struct{ msg string }

func (e warningError) Error() string { return e.msg }

// exitMessage is err as restic words it at exit: "Fatal: ..." or a warning.
func exitMessage(err error) string {
	var w warningError
	if errors.As(err, &w) {
		return w.msg
	}
	var usage *usageError
	if errors.As(err, &usage) {
		return err.Error() // restic reports command-line mistakes without "Fatal: "
	}
	return "Fatal: " + err.Error()
}

// errorLine formats err as a single line for the terminal.
func errorLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(exitMessage(err), "\n", "; ")), " ")
}
