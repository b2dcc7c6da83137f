package gs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/cairn-backup/cairn/internal/backend"
)

// accessError is a refusal by the server, or by Google's token service,
// to let us in; it names the likely cause in one line.
type accessError struct {
	op  string
	err error
}

func (e *accessError) Error() string {
	return fmt.Sprintf("gs: access denied (wrong credentials?): %s: %s", e.op, describe(e.err))
}

func (e *accessError) Unwrap() error { return e.err }

// opError is the failure of an operation, in one line.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + describe(e.err) }
func (e *opError) Unwrap() error { return e.err }

// describe says what err is in one line. The client's errors for answers
// of the server span several lines of details; the status and the
// server's message are what matter.
func describe(err error) string {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		msg := fmt.Sprintf("server answered %d %s", gerr.Code, http.StatusText(gerr.Code))
		if m := strings.TrimSpace(gerr.Message); m != "" {
			msg += ": " + m
		}
		return strings.Join(strings.Fields(msg), " ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// classify wraps err, the failure of operation op, and sorts it for the
// layers above:
//
//   - a missing object or bucket (404) matches backend.ErrNotExist;
//   - a refused identity (401, 403, or a token request refused with a
//     4xx) is permanent, as an *accessError;
//   - a busy or failing server (5xx but 501, 408, 429) and any error that
//     is not an answer of the server, such as a network failure, is
//     transient;
//   - any other answer (400, 412, 416, ...) and a server certificate that
//     fails the TLS check are permanent.
//
// A cancelled ctx yields ctx.Err(), wrapped. A nil err stays nil.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %w", op, cerr)
	}
	if backend.IsCertificateError(err) {
		return backend.Permanent(&opError{op: op, err: err})
	}
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return backend.NotExist(&opError{op: op, err: err})
	}
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) && rerr.Response != nil {
		if code := rerr.Response.StatusCode; code >= 400 && code < 500 && code != http.StatusTooManyRequests {
			return backend.Permanent(&accessError{op: op, err: err})
		}
		return &opError{op: op, err: err}
	}
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return &opError{op: op, err: err}
	}
	switch code := gerr.Code; {
	case code == http.StatusNotFound:
		return backend.NotExist(&opError{op: op, err: err})
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return backend.Permanent(&accessError{op: op, err: err})
	case code == http.StatusNotImplemented:
		return backend.Permanent(&opError{op: op, err: err})
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return &opError{op: op, err: err}
	}
	return backend.Permanent(&opError{op: op, err: err})
}

// isRangeError reports whether err is the server's refusal of a byte
// range (416).
func isRangeError(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == http.StatusRequestedRangeNotSatisfiable
}
