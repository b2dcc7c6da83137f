package location

import (
	"context"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/gs"
)

func openGS(ctx context.Context, location string, opts Options, create bool) (backend.Backend, error) {
	cfg, err := gs.ParseConfig(location)
	if err != nil {
		return nil, backend.Permanent(err)
	}
	for _, kv := range opts.options("gs") {
		if err := cfg.SetOption(kv[0], kv[1]); err != nil {
			return nil, backend.Permanent(err)
		}
	}
	if cfg.Transport, err = opts.transport(); err != nil {
		return nil, backend.Permanent(err)
	}
	var be *gs.Backend
	if create {
		be, err = gs.Create(ctx, cfg)
	} else {
		be, err = gs.Open(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return be, nil
}
