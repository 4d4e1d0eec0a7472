package lambda

import (
	"fmt"
	"net/url"
	"sort"
	"time"
)

// Defaults and bounds of Config.
const (
	// DefaultTimeout is the per-invocation deadline when Config.Timeout is zero: the longest
	// function run time Firehose honours.
	DefaultTimeout = 5 * time.Minute
	// MaxTimeout bounds Config.Timeout: the longest run time Lambda allows a function.
	MaxTimeout = 15 * time.Minute
	// MaxPayloadBytes is the largest request and response of a synchronous invocation.
	MaxPayloadBytes = 6 << 20
)

// Config says how the functions named by Lambda processors are reached. The zero value invokes
// AWS Lambda in the region of each function's ARN, with the standard AWS credential chain
// (see docs/design/lambda.md).
type Config struct {
	// Endpoint is the base URL (http:// or https://) of a Lambda Invoke API, such as a Lambda
	// emulator or https://lambda.eu-west-1.amazonaws.com. Empty means AWS's endpoint for the
	// region of the function's ARN.
	Endpoint string
	// Region is the region of functions named without a full ARN, and the signing region of a
	// custom Endpoint when the ARN has none. Empty means AWS_REGION or the profile's region,
	// else us-east-1 for a custom Endpoint.
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials. Empty means the
	// standard AWS chain (environment, shared files, SSO, web identity, container and
	// instance roles).
	AccessKeyID, SecretAccessKey, SessionToken string
	// Profile is the shared config profile to load. Empty means AWS_PROFILE or "default".
	Profile string
	// Anonymous sends Invoke API requests unsigned, for emulators that check no signature.
	Anonymous bool
	// Functions maps a function name ("MetadataExtractor", "MetadataExtractor:1") or a full
	// function ARN to a plain http:// or https:// URL. Invocations of a mapped function POST
	// the payload to the URL and take the response body as the result, with no Invoke API
	// framing and no signature.
	Functions map[string]string
	// Timeout bounds each invocation. Zero means DefaultTimeout; otherwise at most MaxTimeout.
	Timeout time.Duration
}

// Validate reports the first invalid field of c, naming the field and its bound.
func (c Config) Validate() error {
	if err := validateURL("Endpoint", c.Endpoint); err != nil {
		return err
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return fmt.Errorf("lambda: AccessKeyID and SecretAccessKey must be set together")
	}
	if c.SessionToken != "" && c.AccessKeyID == "" {
		return fmt.Errorf("lambda: SessionToken requires AccessKeyID and SecretAccessKey")
	}
	if c.Anonymous && (c.AccessKeyID != "" || c.Profile != "") {
		return fmt.Errorf("lambda: Anonymous excludes AccessKeyID, SecretAccessKey, SessionToken and Profile")
	}
	if c.Timeout < 0 || c.Timeout > MaxTimeout {
		return fmt.Errorf("lambda: Timeout %s out of range: must be 0 (default %s) or at most %s", c.Timeout, DefaultTimeout, MaxTimeout)
	}
	keys := make([]string, 0, len(c.Functions))
	for k := range c.Functions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := parseFunction(k); err != nil {
			return fmt.Errorf("lambda: Functions key %q: %w", k, err)
		}
		field := fmt.Sprintf("Functions[%q]", k)
		if c.Functions[k] == "" {
			return fmt.Errorf("lambda: %s must be an http:// or https:// URL", field)
		}
		if err := validateURL(field, c.Functions[k]); err != nil {
			return err
		}
	}
	return nil
}

func validateURL(field, s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("lambda: %s %q is not a URL: %w", field, s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("lambda: %s %q must be an http:// or https:// URL with a host", field, s)
	}
	return nil
}
