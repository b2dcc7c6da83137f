package location

import (
	"context"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/azure"
)

// openAzure opens an azure:container:/path location. Credentials come
// from the AZURE_* environment variables (see azure.Config.ApplyEnvironment).
func openAzure(ctx context.Context, location string, opts Options, create bool) (backend.Backend, error) {
	cfg, err := azure.ParseConfig(location)
	if err != nil {
		return nil, backend.Permanent(err)
	}
	for _, kv := range opts.options("azure") {
		if err := cfg.SetOption(kv[0], kv[1]); err != nil {
			return nil, backend.Permanent(err)
		}
	}
	if cfg.Transport, err = opts.transport(); err != nil {
		return nil, backend.Permanent(err)
	}
	var be *azure.Backend
	if create {
		be, err = azure.Create(ctx, cfg)
	} else {
		be, err = azure.Open(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return be, nil
}
