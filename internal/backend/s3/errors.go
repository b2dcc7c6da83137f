package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/internal/backend"
)

// accessError is a refusal by the server to let us in; it names the likely
// cause in one line.
type accessError struct {
	op  string
	err error
}

func (e *accessError) Error() string {
	return fmt.Sprintf("s3: access denied (wrong credentials?): %s: %v", e.op, e.err)
}

func (e *accessError) Unwrap() error { return e.err }

// classify wraps err, the failure of operation op, and sorts it for the
// layers above:
//
//   - a missing object or bucket (NoSuchKey, NoSuchBucket, 404) matches
//     backend.ErrNotExist;
//   - a refused identity (AccessDenied, InvalidAccessKeyId,
//     SignatureDoesNotMatch, 401, 403) is permanent, as an *accessError;
//   - a busy or failing server (5xx but 501, 408, 429, throttling codes) and any
//     error that is not an S3 answer, such as a network failure, is
//     transient;
//   - any other S3 answer (400, 416, ...) and a server certificate that
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
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch resp.Code {
	case minio.NoSuchKey, minio.NoSuchBucket, "NotFound":
		return backend.NotExist(fmt.Errorf("%s: %w", op, err))
	case minio.AccessDenied, "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return backend.Permanent(&accessError{op: op, err: err})
	case "SlowDown", "SlowDownRead", "SlowDownWrite", "Throttling", "ThrottlingException",
		"RequestTimeout", "InternalError", "ServiceUnavailable", "RequestError", "ExpiredToken":
		return fmt.Errorf("%s: %w", op, err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound:
		return backend.NotExist(fmt.Errorf("%s: %w", op, err))
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return backend.Permanent(&accessError{op: op, err: err})
	case code == http.StatusNotImplemented:
		return backend.Permanent(fmt.Errorf("%s: %w", op, err))
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code == 0:
		// A status of 0 is a client-side failure that did not reach the
		// server, or an answer that could not be read.
		return fmt.Errorf("%s: %w", op, err)
	}
	return backend.Permanent(fmt.Errorf("%s: %w", op, err))
}

// isRangeError reports whether err is the server's refusal of a byte range
// (416 InvalidRange).
func isRangeError(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) &&
		(resp.Code == "InvalidRange" || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable)
}
