package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/cairn-backup/cairn/internal/backend"
)

// accessError is a refusal by the service to let us in; it names the
// likely cause in one line.
type accessError struct {
	op  string
	err *azcore.ResponseError
}

func (e *accessError) Error() string {
	code := e.err.ErrorCode
	if code == "" {
		code = http.StatusText(e.err.StatusCode)
	}
	return fmt.Sprintf("azure: access denied (wrong credentials?): %s: %d %s", e.op, e.err.StatusCode, code)
}

func (e *accessError) Unwrap() error { return e.err }

// classify wraps err, the failure of operation op, and sorts it for the
// layers above:
//
//   - a missing blob or container (BlobNotFound, ContainerNotFound, 404)
//     matches backend.ErrNotExist;
//   - a refused identity or right (AuthenticationFailed, the
//     Authorization* codes, 401, 403) is permanent, as an *accessError;
//   - a busy or failing service (5xx but 501, 408, 429, ServerBusy,
//     OperationTimedOut) and any error that is not an answer of the
//     service, such as a network failure, is transient;
//   - any other answer (400, 409, 416, ...) and a server certificate that
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
	var resp *azcore.ResponseError
	if !errors.As(err, &resp) {
		return fmt.Errorf("%s: %w", op, err)
	}
	// The SDK's message spans many lines; keep status and code.
	short := fmt.Errorf("%s: %w", op, &responseError{resp})
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound:
		return backend.NotExist(short)
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return backend.Permanent(&accessError{op: op, err: resp})
	case code == http.StatusNotImplemented:
		return backend.Permanent(short)
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests,
		bloberror.HasCode(err, bloberror.ServerBusy, bloberror.OperationTimedOut):
		return short
	}
	return backend.Permanent(short)
}

// isNotAuthorized reports whether err refuses valid credentials the right
// to do something (as opposed to refusing the credentials themselves).
func isNotAuthorized(err error) bool {
	return bloberror.HasCode(err, bloberror.AuthorizationFailure, bloberror.AuthorizationPermissionMismatch,
		bloberror.AuthorizationResourceTypeMismatch, bloberror.AuthorizationServiceMismatch)
}

// responseError shows an *azcore.ResponseError in one line.
type responseError struct{ err *azcore.ResponseError }

func (e *responseError) Error() string {
	if e.err.ErrorCode == "" {
		return fmt.Sprintf("%d %s", e.err.StatusCode, http.StatusText(e.err.StatusCode))
	}
	return fmt.Sprintf("%d %s", e.err.StatusCode, e.err.ErrorCode)
}

func (e *responseError) Unwrap() error { return e.err }

// isRangeError reports whether err is the service's refusal of a byte
// range (416 InvalidRange).
func isRangeError(err error) bool {
	var resp *azcore.ResponseError
	return errors.As(err, &resp) &&
		(resp.ErrorCode == string(bloberror.InvalidRange) || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable)
}
