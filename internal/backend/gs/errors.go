package gs

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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
	return fmt.Sprintf("gs: access denied (wrong credentials?): %s: %v", e.op, e.err)
}

func (e *accessError) Unwrap() error { return e.err }

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
		return backend.Permanent(fmt.Errorf("%s: %w", op, err))
	}
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return backend.NotExist(fmt.Errorf("%s: %w", op, err))
	}
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) && rerr.Response != nil {
		if code := rerr.Response.StatusCode; code >= 400 && code < 500 && code != http.StatusTooManyRequests {
			return backend.Permanent(&accessError{op: op, err: err})
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch code := gerr.Code; {
	case code == http.StatusNotFound:
		return backend.NotExist(fmt.Errorf("%s: %w", op, err))
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return backend.Permanent(&accessError{op: op, err: err})
	case code == http.StatusNotImplemented:
		return backend.Permanent(fmt.Errorf("%s: %w", op, err))
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return fmt.Errorf("%s: %w", op, err)
	}
	return backend.Permanent(fmt.Errorf("%s: %w", op, err))
}

// isRangeError reports whether err is the server's refusal of a byte
// range (416).
func isRangeError(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == http.StatusRequestedRangeNotSatisfiable
}
