package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/cairn-backup/cairn/internal/backend"
)

func TestClassify(t *testing.T) {
	const (
		transient = iota
		permanent
		notExist
		access
	)
	resp := func(status int, code string) error {
		return &azcore.ResponseError{StatusCode: status, ErrorCode: code}
	}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"BlobNotFound", resp(404, "BlobNotFound"), notExist},
		{"ContainerNotFound", resp(404, "ContainerNotFound"), notExist},
		{"bare 404", resp(404, ""), notExist},
		{"AuthenticationFailed", resp(403, "AuthenticationFailed"), access},
		{"AuthorizationPermissionMismatch", resp(403, "AuthorizationPermissionMismatch"), access},
		{"bare 401", resp(401, ""), access},
		{"ServerBusy", resp(503, "ServerBusy"), transient},
		{"InternalError", resp(500, "InternalError"), transient},
		{"502", resp(http.StatusBadGateway, ""), transient},
		{"408", resp(http.StatusRequestTimeout, ""), transient},
		{"429", resp(http.StatusTooManyRequests, ""), transient},
		{"network", errors.New("connection refused"), transient},
		{"InvalidRange", resp(416, "InvalidRange"), permanent},
		{"InvalidHeaderValue", resp(400, "InvalidHeaderValue"), permanent},
		{"BlobAlreadyExists", resp(409, "BlobAlreadyExists"), permanent},
		{"501", resp(501, "NotImplemented"), permanent},
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
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("classify(%v) = %q, want one line", tt.err, err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("classify(%v) = %v, which does not wrap the cause", tt.err, err)
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
