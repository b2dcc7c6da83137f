package s3

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	// metadataProbeTimeout bounds the first look at the EC2 instance
	// metadata service. On an instance it answers within milliseconds;
	// elsewhere nothing may answer at all.
	metadataProbeTimeout = 2 * time.Second
	// metadataDialTimeout bounds each connection attempt to it.
	metadataDialTimeout = time.Second
	// explicitDialTimeout bounds connection attempts to an IAM source
	// named by the environment, which may be a remote STS endpoint.
	explicitDialTimeout = 10 * time.Second
	// iamRequestTimeout bounds every request for IAM credentials, including
	// the refreshes made later by the client.
	iamRequestTimeout = 30 * time.Second
)

// findCredentials looks for credentials in this order: the AWS environment
// variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// the MinIO ones (MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, ...), the AWS
// shared credentials and config files (AWS_SHARED_CREDENTIALS_FILE,
// AWS_CONFIG_FILE, AWS_PROFILE), and last IAM: a web identity or container
// endpoint named by the environment, else the EC2 instance metadata
// service.
//
// When nothing is found, the result is anonymous access. The metadata
// service gets only metadataProbeTimeout to answer (none with
// AWS_EC2_METADATA_DISABLED=true), so a machine without credentials does
// not wait long. An IAM source named explicitly by the environment must
// work: its failure is returned.
//
// AWS_CA_BUNDLE is not read: certificates come from the transport.
func findCredentials(ctx context.Context) (*credentials.Credentials, error) {
	local := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.EnvMinio{},
		&credentials.FileAWSCredentials{},
	})
	v, err := local.GetWithContext(&credentials.CredContext{Client: http.DefaultClient, Context: ctx})
	if err == nil && !v.SignerType.IsAnonymous() {
		return local, nil
	}

	explicit := false
	for _, name := range []string{
		"AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	} {
		if os.Getenv(name) != "" {
			explicit = true
		}
	}
	iam := &credentials.IAM{Client: iamClient(explicitDialTimeout)}
	probeCtx := ctx
	if !explicit {
		iam.Client = iamClient(metadataDialTimeout)
		if os.Getenv("AWS_EC2_METADATA_DISABLED") == "true" {
			return anonymous(), nil
		}
		var cancel context.CancelFunc
		probeCtx, cancel = context.WithTimeout(ctx, metadataProbeTimeout)
		defer cancel()
	}
	v, err = iam.RetrieveWithCredContext(&credentials.CredContext{Client: iam.Client, Context: probeCtx})
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil && explicit:
		return nil, fmt.Errorf("IAM credentials: %w", err)
	case err != nil || v.AccessKeyID == "":
		return anonymous(), nil
	}
	// The client fetches them again and refreshes them when they expire.
	return credentials.New(iam), nil
}

// anonymous returns credentials that send unsigned requests.
func anonymous() *credentials.Credentials {
	return credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
}

// iamClient returns the HTTP client for credential requests, giving up on
// a connection attempt after dialTimeout.
func iamClient(dialTimeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout}).DialContext
	return &http.Client{Transport: tr, Timeout: iamRequestTimeout}
}
