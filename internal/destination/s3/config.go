package s3

import (
	"fmt"
	"net/url"
	"sort"
)

// Defaults and bounds of Config.
const (
	// DefaultPartSize is the part size of multipart uploads when Config.PartSize is zero.
	DefaultPartSize int64 = 16 << 20
	// MinPartSize is the smallest part S3 accepts (except for the last part).
	MinPartSize int64 = 5 << 20
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize int64 = 5 << 30
	// DefaultConcurrency is the number of parts in flight per object when Config.Concurrency is zero.
	DefaultConcurrency = 4
	// MaxConcurrency bounds Config.Concurrency.
	MaxConcurrency = 64
)

// Config says where and how objects are stored. The zero value stores to AWS S3 with the
// region, endpoint and credentials of the environment (see docs/design/s3.md).
type Config struct {
	// Endpoint is the URL (http:// or https://) of every bucket without an endpoint of its own.
	// Empty means AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's endpoint_url, else
	// AWS's endpoint for the region.
	Endpoint string
	// Region is the signing region. Empty means AWS_REGION or the profile's region, else
	// us-east-1 when a custom endpoint is in use.
	Region string
	// PathStyle selects path-style addressing (http://host/bucket/key). Nil means true for a
	// custom endpoint and false for AWS.
	PathStyle *bool
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials. Empty means the
	// standard AWS chain (environment, shared files, SSO, web identity, instance roles).
	AccessKeyID, SecretAccessKey, SessionToken string
	// Profile is the shared config profile to load. Empty means AWS_PROFILE or "default".
	Profile string
	// PartSize is the size above which an object is uploaded in parts, and the part size.
	// Zero means DefaultPartSize; otherwise MinPartSize..MaxPartSize.
	PartSize int64
	// Concurrency is the number of parts in flight per object. Zero means DefaultConcurrency.
	Concurrency int
	// SignPayload signs the body's SHA-256 over plain http too, for stores that refuse
	// UNSIGNED-PAYLOAD. It costs a SHA-256 pass over every byte; over https the SDK's
	// default (a trailing CRC32 checksum) applies either way.
	SignPayload bool
	// Buckets overrides the settings of single buckets, keyed by the bucket name of the
	// BucketARN (arn:aws:s3:::name).
	Buckets map[string]Bucket
}

// Bucket overrides the settings of one bucket. Empty fields inherit Config's, except the
// credentials: setting any of AccessKeyID, SecretAccessKey, SessionToken or Profile replaces
// all of Config's credential fields for this bucket.
type Bucket struct {
	// Name is the real bucket name on the store; empty means the name of the ARN.
	Name string
	// Endpoint, Region and PathStyle override Config's.
	Endpoint  string
	Region    string
	PathStyle *bool
	// AccessKeyID, SecretAccessKey, SessionToken and Profile override Config's credentials.
	AccessKeyID, SecretAccessKey, SessionToken string
	Profile                                    string
}

// hasCredentials reports whether b sets any credential field.
func (b Bucket) hasCredentials() bool {
	return b.AccessKeyID != "" || b.SecretAccessKey != "" || b.SessionToken != "" || b.Profile != ""
}

// Validate reports the first invalid field of c, naming the field and its bound.
func (c Config) Validate() error {
	if err := validateEndpoint("Endpoint", c.Endpoint); err != nil {
		return err
	}
	if err := validateCredentials("", c.AccessKeyID, c.SecretAccessKey, c.SessionToken); err != nil {
		return err
	}
	if c.PartSize != 0 && (c.PartSize < MinPartSize || c.PartSize > MaxPartSize) {
		return fmt.Errorf("s3: PartSize %d out of range: must be 0 (default %d) or %d..%d bytes", c.PartSize, DefaultPartSize, MinPartSize, MaxPartSize)
	}
	if c.Concurrency < 0 || c.Concurrency > MaxConcurrency {
		return fmt.Errorf("s3: Concurrency %d out of range: must be 0 (default %d) or 1..%d", c.Concurrency, DefaultConcurrency, MaxConcurrency)
	}
	names := make([]string, 0, len(c.Buckets))
	for name := range c.Buckets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b := c.Buckets[name]
		field := fmt.Sprintf("Buckets[%q]", name)
		if err := validateBucketName(name); err != nil {
			return fmt.Errorf("s3: %s: %w", field, err)
		}
		if b.Name != "" {
			if err := validateBucketName(b.Name); err != nil {
				return fmt.Errorf("s3: %s.Name: %w", field, err)
			}
		}
		if err := validateEndpoint(field+".Endpoint", b.Endpoint); err != nil {
			return err
		}
		if err := validateCredentials(field+".", b.AccessKeyID, b.SecretAccessKey, b.SessionToken); err != nil {
			return err
		}
	}
	return nil
}

func validateEndpoint(field, endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("s3: %s %q is not a URL: %w", field, endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("s3: %s %q must be an http:// or https:// URL with a host", field, endpoint)
	}
	return nil
}

func validateCredentials(prefix, id, secret, token string) error {
	if (id == "") != (secret == "") {
		return fmt.Errorf("s3: %sAccessKeyID and %sSecretAccessKey must be set together", prefix, prefix)
	}
	if token != "" && id == "" {
		return fmt.Errorf("s3: %sSessionToken requires %sAccessKeyID and %sSecretAccessKey", prefix, prefix, prefix)
	}
	return nil
}

// validateBucketName refuses names that cannot appear in a request path. The store enforces
// its own naming rules (InvalidBucketName).
func validateBucketName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("bucket name %q must be 1..255 bytes", name)
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r <= ' ' || r == 0x7f {
			return fmt.Errorf("bucket name %q contains %q", name, r)
		}
	}
	return nil
}
