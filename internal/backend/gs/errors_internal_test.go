package gs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/cairn-backup/cairn/internal/backend"
)

func TestClassify(t *testing.T) {
	api := func(code int) error {
		return &googleapi.Error{Code: code, Message: "msg", Body: "{\n\"error\": {}\n}", Details: []any{"x"}}
	}
	token := func(code int) error {
		return &url.Error{Op: "Get", URL: "https://x", Err: &oauth2.RetrieveError{Response: &http.Response{StatusCode: code}, Body: []byte("{}")}}
	}
	tests := []struct {
		name                string
		err                 error
		permanent, notExist bool
		access              bool
	}{
		{name: "object missing", err: fmt.Errorf("%w: %w", storage.ErrObjectNotExist, api(404)), permanent: true, notExist: true},
		{name: "bucket missing", err: storage.ErrBucketNotExist, permanent: true, notExist: true},
		{name: "404", err: api(404), permanent: true, notExist: true},
		{name: "401", err: api(401), permanent: true, access: true},
		{name: "403", err: api(403), permanent: true, access: true},
		{name: "400", err: api(400), permanent: true},
		{name: "412", err: api(412), permanent: true},
		{name: "501", err: api(501), permanent: true},
		{name: "500", err: api(500)},
		{name: "503", err: api(503)},
		{name: "429", err: api(429)},
		{name: "408", err: api(408)},
		{name: "token refused", err: token(400), permanent: true, access: true},
		{name: "token server busy", err: token(503)},
		{name: "token rate limited", err: token(429)},
		{name: "network", err: &url.Error{Op: "Get", URL: "http://x", Err: errors.New("connection refused")}},
		{name: "certificate", err: &url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(context.Background(), "stat config", tt.err)
			if got := backend.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if got := errors.Is(err, backend.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(%v, ErrNotExist) = %v, want %v", err, got, tt.notExist)
			}
			var ae *accessError
			if got := errors.As(err, &ae); got != tt.access {
				t.Errorf("%v is an access error: %v, want %v", err, got, tt.access)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("classify lost the cause %v", tt.err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(strings.TrimPrefix(msg, "gs: access denied (wrong credentials?): "), "stat config: ") {
				t.Errorf("message %q, want one line starting with the operation", msg)
			}
		})
	}
	if err := classify(context.Background(), "x", nil); err != nil {
		t.Errorf("classify(nil) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := classify(ctx, "x", api(500)); !errors.Is(err, context.Canceled) {
		t.Errorf("classify with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestSaveErrorLostSession(t *testing.T) {
	err := saveError(context.Background(), "save data/ab", &googleapi.Error{Code: 404})
	if err == nil || backend.IsPermanent(err) {
		t.Errorf("saveError(404) = %v, want a transient error (a lost upload session)", err)
	}
	if err := saveError(context.Background(), "save data/ab", &googleapi.Error{Code: 403}); !backend.IsPermanent(err) {
		t.Errorf("saveError(403) = %v, want a permanent error", err)
	}
}
