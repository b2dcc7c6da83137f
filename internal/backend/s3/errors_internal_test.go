package s3

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/internal/backend"
)

func TestClassify(t *testing.T) {
	const (
		transient = iota
		permanent
		notExist
		access
	)
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"NoSuchKey", minio.ErrorResponse{Code: minio.NoSuchKey, StatusCode: 404}, notExist},
		{"NoSuchBucket", minio.ErrorResponse{Code: minio.NoSuchBucket, StatusCode: 404}, notExist},
		{"bare 404", minio.ErrorResponse{StatusCode: 404}, notExist},
		{"AccessDenied", minio.ErrorResponse{Code: minio.AccessDenied, StatusCode: 403}, access},
		{"InvalidAccessKeyId", minio.ErrorResponse{Code: "InvalidAccessKeyId", StatusCode: 403}, access},
		{"SignatureDoesNotMatch", minio.ErrorResponse{Code: "SignatureDoesNotMatch", StatusCode: 403}, access},
		{"bare 401", minio.ErrorResponse{StatusCode: 401}, access},
		{"SlowDown", minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}, transient},
		{"InternalError", minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, transient},
		{"502", minio.ErrorResponse{StatusCode: http.StatusBadGateway}, transient},
		{"408", minio.ErrorResponse{StatusCode: http.StatusRequestTimeout}, transient},
		{"429", minio.ErrorResponse{StatusCode: http.StatusTooManyRequests}, transient},
		{"network", errors.New("connection refused"), transient},
		{"InvalidRange", minio.ErrorResponse{Code: "InvalidRange", StatusCode: 416}, permanent},
		{"InvalidBucketName", minio.ErrorResponse{Code: "InvalidBucketName", StatusCode: 400}, permanent},
		{"501", minio.ErrorResponse{Code: "NotImplemented", StatusCode: 501}, permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(t.Context(), "op", tt.err)
			var ae *accessError
			got := transient
			switch {
			case errors.Is(err, backend.ErrNotExist):
				got = notExist
			case errors.As(err, &ae) && backend.IsPermanent(err):
				got = access
			case backend.IsPermanent(err):
				got = permanent
			}
			if got != tt.want {
				t.Errorf("classify(%v) = %v (kind %d), want kind %d", tt.err, err, got, tt.want)
			}
		})
	}
	if err := classify(t.Context(), "op", nil); err != nil {
		t.Errorf("classify(nil) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := classify(ctx, "op", errors.New("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("classify with a cancelled context = %v, want context.Canceled", err)
	}
}
