package location

import (
	"context"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/rclone"
)

func openRclone(ctx context.Context, location string, opts Options, create bool) (backend.Backend, error) {
	cfg, err := rclone.ParseConfig(location)
	if err != nil {
		return nil, backend.Permanent(err)
	}
	for _, kv := range opts.options("rclone") {
		if err := cfg.SetOption(kv[0], kv[1]); err != nil {
			return nil, backend.Permanent(err)
		}
	}
	var be *rclone.Backend
	if create {
		be, err = rclone.Create(ctx, cfg)
	} else {
		be, err = rclone.Open(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return be, nil
}
