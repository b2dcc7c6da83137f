package gs

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// tokenSource finds the credentials, as restic does:
//
//   - GOOGLE_ACCESS_TOKEN, if set, is sent as a bearer token as it is; no
//     other source is looked at;
//   - else Google's application default credentials: the service-account
//     key file GOOGLE_APPLICATION_CREDENTIALS names, gcloud's file, or the
//     metadata server of a Google Cloud machine.
//
// With STORAGE_EMULATOR_HOST set (a test server), only credentials named
// by the environment are used (the token or the key file); without
// either, requests carry no credentials, and the search for gcloud's file
// and the metadata server is skipped.
//
// A nil source means no credentials. client carries the requests for
// tokens (a service account exchanging its key for one).
func tokenSource(ctx context.Context, client *http.Client) (oauth2.TokenSource, error) {
	if tok := os.Getenv("GOOGLE_ACCESS_TOKEN"); tok != "" {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"}), nil
	}
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" && os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") == "" {
		return nil, nil
	}
	// The token source keeps this context for the refreshes it makes
	// later, so it must not end with the open: only its values are kept.
	ctx = context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, client)
	creds, err := google.FindDefaultCredentials(ctx, storage.ScopeReadWrite)
	switch {
	case err != nil && os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") != "":
		return nil, fmt.Errorf("credentials: %w", err) // the message names the variable
	case err != nil:
		return nil, fmt.Errorf("no credentials found (set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or GOOGLE_ACCESS_TOKEN): %w", err)
	}
	return creds.TokenSource, nil
}
