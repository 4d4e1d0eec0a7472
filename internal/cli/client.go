package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/spf13/cobra"
)

// Endpoint defaults of the client commands.
const (
	// defaultEndpoint is where the client commands go when neither a flag nor the AWS
	// configuration names an endpoint: a Hydrant on its default address.
	defaultEndpoint = "http://127.0.0.1:4573"
	// endpointAWS, given as --endpoint-url, means the AWS regional endpoint of the service,
	// ignoring endpoints configured in the environment and the shared config files.
	endpointAWS = "aws"
	// fallbackRegion signs requests to a non-AWS endpoint when no region is configured.
	fallbackRegion = "us-east-1"
	// sdkIDCloudWatch names CloudWatch in AWS_ENDPOINT_URL_CLOUDWATCH and in the
	// services section of the shared config file.
	sdkIDCloudWatch = "CloudWatch"
)

// errNoRegion is returned when a command targets AWS and no region is configured.
var errNoRegion = errors.New("no region: give --region or set AWS_REGION (or a region in the profile)")

// awsFlags are the connection flags every client command takes, named as in the AWS CLI.
type awsFlags struct {
	endpoint, region, profile string
}

func (a *awsFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&a.endpoint, "endpoint-url", "", `endpoint URL, or "aws" for the AWS regional endpoint (default: $AWS_ENDPOINT_URL_FIREHOSE, $AWS_ENDPOINT_URL, the profile's endpoint_url, else `+defaultEndpoint+")")
	f.StringVar(&a.region, "region", "", "AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION or the profile's region)")
	f.StringVar(&a.profile, "profile", "", "shared config profile (default: $AWS_PROFILE)")
}

// conn is a resolved connection: the SDK configuration and the endpoint it targets.
type conn struct {
	cfg aws.Config
	// endpoint is the Firehose base endpoint; empty means the SDK's AWS endpoint resolution.
	endpoint string
	// forceAWS records --endpoint-url aws: configured endpoints are ignored.
	forceAWS bool
}

// connect loads the AWS configuration (credentials chain, region, profile, configured
// endpoints) and resolves the Firehose endpoint. Requests to an endpoint outside AWS are
// signed with placeholder credentials when the chain finds none: a Hydrant without credentials
// configured accepts any signature (docs/design/auth.md).
func (a *awsFlags) connect(ctx context.Context) (*conn, error) {
	var opts []func(*config.LoadOptions) error
	if a.region != "" {
		opts = append(opts, config.WithRegion(a.region))
	}
	if a.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.profile))
	}
	forceAWS := strings.EqualFold(a.endpoint, endpointAWS)
	if a.endpoint != "" && !forceAWS {
		if err := checkURL(a.endpoint); err != nil {
			return nil, err
		}
	}
	// The instance metadata service only answers on EC2, and asking it elsewhere costs
	// seconds: the configuration is loaded without it first, and again with it only when
	// the endpoint turns out to be AWS's.
	cfg, err := config.LoadDefaultConfig(ctx, append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	c := &conn{cfg: cfg, forceAWS: forceAWS}
	switch {
	case forceAWS:
	case a.endpoint != "":
		c.endpoint = a.endpoint
	default:
		if ep := firehose.NewFromConfig(cfg).Options().BaseEndpoint; ep != nil && *ep != "" {
			c.endpoint = *ep
		} else {
			c.endpoint = defaultEndpoint
		}
	}
	if c.aws() {
		if c.cfg, err = config.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		if c.cfg.Region == "" {
			return nil, errNoRegion
		}
		return c, nil
	}
	if c.cfg.Region == "" {
		c.cfg.Region = fallbackRegion
	}
	if c.cfg.Credentials == nil {
		c.cfg.Credentials = placeholderCredentials()
	} else if _, err := c.cfg.Credentials.Retrieve(ctx); err != nil {
		c.cfg.Credentials = placeholderCredentials()
	}
	return c, nil
}

// placeholderCredentials sign requests to Hydrant when the credentials chain finds none;
// Hydrant does not check signatures.
func placeholderCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("hydrant", "hydrant", "")
}

// aws reports whether the connection targets AWS rather than Hydrant or another emulator.
func (c *conn) aws() bool { return c.endpoint == "" || isAWSHost(c.endpoint) }

// firehose returns a Firehose client for the connection.
func (c *conn) firehose(optFns ...func(*firehose.Options)) *firehose.Client {
	return firehose.NewFromConfig(c.cfg, append([]func(*firehose.Options){func(o *firehose.Options) {
		if c.forceAWS {
			o.BaseEndpoint = nil
		} else {
			o.BaseEndpoint = aws.String(c.endpoint)
		}
	}}, optFns...)...)
}

// cloudWatchEndpoint returns the CloudWatch endpoint of the connection: a configured
// CloudWatch endpoint (AWS_ENDPOINT_URL_CLOUDWATCH or the profile's services section)
// unless --endpoint-url was given, else the Firehose endpoint (Hydrant serves both on one
// listener), else the AWS regional endpoint.
func (c *conn) cloudWatchEndpoint(ctx context.Context, flagGiven bool) string {
	if !flagGiven {
		if ep := serviceEndpoint(ctx, c.cfg, sdkIDCloudWatch); ep != "" {
			return ep
		}
	}
	if !c.aws() || (c.endpoint != "" && !c.forceAWS) {
		return c.endpoint
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(c.cfg.Region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return "https://monitoring." + c.cfg.Region + "." + suffix
}

// serviceEndpoint returns the endpoint configured for one service (by SDK ID) in the
// environment or the shared config file, honouring AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func serviceEndpoint(ctx context.Context, cfg aws.Config, sdkID string) string {
	if ignore, found, err := config.GetIgnoreConfiguredEndpoints(ctx, cfg.ConfigSources); found && ignore && err == nil {
		return ""
	}
	type provider interface {
		GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
	}
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(provider); ok {
			if v, found, err := p.GetServiceBaseEndpoint(ctx, sdkID); found && err == nil && v != "" {
				return v
			}
		}
	}
	return ""
}

// isAWSHost reports whether an endpoint URL is an AWS service host.
func isAWSHost(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn") || strings.HasSuffix(h, ".api.aws")
}

func checkURL(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--endpoint-url %q: must be an http(s) URL or %q", endpoint, endpointAWS)
	}
	return nil
}

// adminGet sends a GET to one of Hydrant's own endpoints (/_hydrant/...), signed like the API's
// requests for a server with credentials (docs/design/auth.md).
func (c *conn) adminGet(ctx context.Context, path string) (*http.Response, error) {
	if c.endpoint == "" {
		return nil, errors.New("Hydrant's own endpoints need --endpoint-url (AWS has none)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.endpoint, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("retrieve credentials: %w", err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "firehose", c.cfg.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	hc := c.cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}
