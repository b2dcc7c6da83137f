package sftp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/pkg/sftp"

	"github.com/cairn-backup/cairn/internal/backend"
)

// session is a set of SFTP sessions (channels) and whatever carries them:
// an SSH connection or an ssh command. Each channel has its own SSH flow
// control window, so over a link with latency several channels move
// several times the data one does; calls spread over them in turn.
type session struct {
	clients []*sftp.Client
	next    atomic.Uint32
	// posixRename reports whether the server offers
	// posix-rename@openssh.com, which replaces the target atomically.
	posixRename bool
	// dead is closed when the session has ended.
	dead chan struct{}
	// cause, if set, explains after dead why the session ended (an ssh
	// command's exit status); it may return nil.
	cause func() error

	closeOnce sync.Once
	closeFn   func() error
	closeErr  error
}

// clientOptions are the options of every SFTP client. Concurrent writes
// are safe for us: a failed Save removes its temporary file.
func clientOptions() []sftp.ClientOption {
	return []sftp.ClientOption{sftp.UseConcurrentWrites(true)}
}

// newSession wraps clients, at least one, all on one transport; closeFn
// tears down the clients and the transport. The session is dead as soon
// as any client ends.
func newSession(clients []*sftp.Client, closeFn func() error) *session {
	_, posix := clients[0].HasExtension("posix-rename@openssh.com")
	s := &session{
		clients:     clients,
		posixRename: posix,
		dead:        make(chan struct{}),
		closeFn:     closeFn,
	}
	var once sync.Once
	for _, c := range clients {
		go func() {
			_ = c.Wait()
			once.Do(func() { close(s.dead) })
		}()
	}
	return s
}

// pick returns the client for the next call, taking them in turn. Calls
// that belong together (a file handle's reads and writes) go through the
// handle, which stays on its client.
func (s *session) pick() *sftp.Client {
	return s.clients[int(s.next.Add(1))%len(s.clients)]
}

// isDead reports whether the session has ended.
func (s *session) isDead() bool {
	select {
	case <-s.dead:
		return true
	default:
		return false
	}
}

// close ends the session; it may be called more than once.
func (s *session) close() error {
	s.closeOnce.Do(func() { s.closeErr = s.closeFn() })
	return s.closeErr
}

// lostConnection reports whether err may mean that the session is gone:
// anything but an answer from the server (a status, which pkg/sftp turns
// into os.ErrNotExist and os.ErrPermission for some codes), a
// cancellation, or a failure of the data source of a Save.
func lostConnection(err error) bool {
	var se *sftp.StatusError
	var src *sourceError
	switch {
	case errors.As(err, &se), errors.As(err, &src),
		errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return true
}

// sourceError is a failure to read the data a Save stores.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "read data: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// classify turns an error of an SFTP request about h into the backend's
// error contract: a missing file matches ErrNotExist, refusals retrying
// cannot fix are Permanent, and the rest (a lost connection, a generic
// server failure) stays transient.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", op, err)
	var se *sftp.StatusError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, os.ErrNotExist):
		return backend.NotExist(err)
	case errors.Is(err, os.ErrPermission):
		return backend.Permanent(err)
	case errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxOpUnsupported:
		return backend.Permanent(err)
	}
	return err
}
