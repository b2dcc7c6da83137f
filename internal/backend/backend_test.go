package backend_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
)

func TestErrorClasses(t *testing.T) {
	errBase := errors.New("base")
	tests := []struct {
		name          string
		err           error
		wantPermanent bool
		wantNotExist  bool
	}{
		{"nil", nil, false, false},
		{"plain", errBase, false, false},
		{"cancelled", context.Canceled, false, false},
		{"Permanent", backend.Permanent(errBase), true, false},
		{"wrapped Permanent", fmt.Errorf("load: %w", backend.Permanent(errBase)), true, false},
		{"ErrNotExist", backend.ErrNotExist, true, true},
		{"wrapped ErrNotExist", fmt.Errorf("stat: %w", backend.ErrNotExist), true, true},
		{"NotExist", backend.NotExist(errBase), true, true},
		{"NotExist of fs.ErrNotExist", backend.NotExist(fs.ErrNotExist), true, true},
		{"wrapped NotExist", fmt.Errorf("load: %w", backend.NotExist(errBase)), true, true},
		{"Permanent NotExist", backend.Permanent(backend.NotExist(errBase)), true, true},
		{"fs.ErrNotExist unwrapped", fs.ErrNotExist, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backend.IsPermanent(tt.err); got != tt.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.wantPermanent)
			}
			if got := errors.Is(tt.err, backend.ErrNotExist); got != tt.wantNotExist {
				t.Errorf("errors.Is(%v, ErrNotExist) = %v, want %v", tt.err, got, tt.wantNotExist)
			}
		})
	}
}

func TestWrappersKeepError(t *testing.T) {
	errBase := errors.New("base")
	wrappers := []struct {
		name string
		wrap func(error) error
	}{
		{"Permanent", backend.Permanent},
		{"NotExist", backend.NotExist},
	}
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			if got := w.wrap(nil); got != nil {
				t.Errorf("%s(nil) = %v, want nil", w.name, got)
			}
			err := w.wrap(errBase)
			if got := err.Error(); got != errBase.Error() {
				t.Errorf("%s(%v).Error() = %q, want %q", w.name, errBase, got, errBase.Error())
			}
			if !errors.Is(err, errBase) {
				t.Errorf("errors.Is(%s(%v), %v) = false, want true", w.name, errBase, errBase)
			}
		})
	}
	if err := backend.NotExist(fs.ErrNotExist); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(NotExist(fs.ErrNotExist), fs.ErrNotExist) = false, want true")
	}
}

// decorator wraps a backend the way retry or sema would.
type decorator struct{ backend.Backend }

func (d *decorator) Unwrap() backend.Backend { return d.Backend }

// opaque wraps a backend without exposing it.
type opaque struct{ backend.Backend }

func TestAs(t *testing.T) {
	base := mem.New()
	inner := &decorator{base}
	outer := &decorator{inner}
	tests := []struct {
		name   string
		be     backend.Backend
		want   *mem.Backend
		wantOK bool
	}{
		{"nil", nil, nil, false},
		{"itself", base, base, true},
		{"one decorator", inner, base, true},
		{"two decorators", outer, base, true},
		{"behind opaque wrapper", &decorator{&opaque{base}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := backend.As[*mem.Backend](tt.be)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("As[*mem.Backend](%T) = %p, %v, want %p, %v", tt.be, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if got, ok := backend.As[*decorator](outer); got != outer || !ok {
		t.Errorf("As[*decorator](outer) = %p, %v, want the outermost %p, true", got, ok, outer)
	}
}
