package kinesis

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// ClientConfig says how one Kinesis stream is reached: the config file's kinesis entry of its
// ARN. Empty fields use the standard AWS chain (AWS_ENDPOINT_URL_KINESIS, AWS_REGION, profiles,
// roles).
type ClientConfig struct {
	// Endpoint is the Kinesis API URL; empty means AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL,
	// the profile's, else AWS's for the region.
	Endpoint string `json:"endpoint,omitempty"`
	// Region is the signing region; empty means AWS_REGION or the profile's, else the ARN's.
	Region string `json:"region,omitempty"`
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials; Profile a shared
	// config profile. Empty means the standard chain.
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
	SessionToken    string `json:"sessionToken,omitempty"`
	Profile         string `json:"profile,omitempty"`
}

// Validate reports settings that cannot work.
func (c ClientConfig) Validate() error {
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return fmt.Errorf("accessKeyId and secretAccessKey go together")
	}
	if c.AccessKeyID != "" && c.Profile != "" {
		return fmt.Errorf("static credentials and profile are exclusive")
	}
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		return fmt.Errorf("endpoint %q is not an http:// or https:// URL", c.Endpoint)
	}
	return nil
}

// NewClient returns a Kinesis client of the stream streamARN. The SDK does not retry: the reader
// backs off itself and counts each throttle. A client of an endpoint outside AWS (an emulator)
// whose credentials chain finds nothing signs with placeholder credentials, which emulators
// accept; the instance metadata service is asked only for AWS's endpoints.
func NewClient(ctx context.Context, c ClientConfig, streamARN string) (*kinesis.Client, error) {
	opts := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(1)}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	if c.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = aws.ToString(kinesis.NewFromConfig(awsCfg).Options().BaseEndpoint)
	}
	if endpoint == "" || isAWSHost(endpoint) {
		if awsCfg, err = config.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("load aws config: %w", err)
		}
	} else if awsCfg.Credentials == nil {
		awsCfg.Credentials = placeholder()
	} else if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		awsCfg.Credentials = placeholder()
	}
	return kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		switch {
		case c.Region != "":
			o.Region = c.Region
		case o.Region == "":
			o.Region = arnRegion(streamARN)
		}
	}), nil
}

// placeholder signs requests to an emulator when the credentials chain finds none.
func placeholder() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("hydrant", "hydrant", "")
}

// isAWSHost reports an endpoint of AWS itself.
func isAWSHost(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn") || strings.HasSuffix(h, ".api.aws")
}

// arnRegion returns the region field of an ARN (arn:partition:service:region:...).
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}
