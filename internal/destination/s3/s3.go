// Package s3 stores delivered objects in any S3-compatible store (AWS S3, MinIO, …) through
// aws-sdk-go-v2. Each object is written whole under its key — in one PutObject, or in parts
// above Config.PartSize with the upload aborted on any failure — so rewriting a key replaces
// it. Over plain http the body is sent as UNSIGNED-PAYLOAD protected by a CRC32 checksum the
// server verifies; docs/design/s3.md describes configuration, signing and errors.
package s3

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/hydrant-dev/hydrant/internal/destination"
)

const (
	// maxAttempts bounds the SDK's retries inside one call; the delivery worker owns back-off.
	maxAttempts = 3
	// maxBackoff caps the SDK's delay between attempts.
	maxBackoff = 2 * time.Second
	// dialTimeout and responseHeaderTimeout bound a dead or hung server.
	dialTimeout           = 10 * time.Second
	responseHeaderTimeout = 2 * time.Minute
	// defaultRegion is used with a custom endpoint when no region is configured anywhere.
	defaultRegion = "us-east-1"
	// defaultContentType is Firehose's Content-Type for every object.
	defaultContentType = "application/octet-stream"
)

// Store is an S3 destination. It is safe for concurrent use.
type Store struct {
	log         *slog.Logger
	partSize    int64
	concurrency int
	def         target
	buckets     map[string]target // ARN bucket name → target
	// payloadOptions are the per-call options of PutObject and UploadPart.
	payloadOptions []func(*awss3.Options)

	mu            sync.Mutex
	pendingAborts []upload // multipart uploads whose abort failed
}

// target is where one ARN bucket name goes: a client and the real bucket name.
type target struct {
	client *awss3.Client
	name   string // empty: the ARN's name
}

// clientKey identifies the settings a client is built from; equal keys share a client.
type clientKey struct {
	endpoint, region                                    string
	pathStyleSet, pathStyle                             bool
	accessKeyID, secretAccessKey, sessionToken, profile string
}

// New validates cfg and builds one client per distinct endpoint, region, addressing style and
// credentials. It loads the AWS shared configuration (and fails on a missing profile) but sends
// no request.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		log:         log,
		partSize:    cfg.PartSize,
		concurrency: cfg.Concurrency,
		buckets:     make(map[string]target, len(cfg.Buckets)),
	}
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	if s.concurrency == 0 {
		s.concurrency = DefaultConcurrency
	}
	if !cfg.SignPayload {
		s.payloadOptions = []func(*awss3.Options){awss3.WithAPIOptions(addUnsignedPayloadOverHTTP)}
	}
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout }).
		WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = responseHeaderTimeout
			t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, 2*s.concurrency)
		})
	clients := map[clientKey]*awss3.Client{}
	clientFor := func(k clientKey, bucket string) (*awss3.Client, error) {
		if c, ok := clients[k]; ok {
			return c, nil
		}
		c, err := newClient(ctx, k, httpClient)
		if err != nil {
			if bucket != "" {
				return nil, fmt.Errorf("s3: client for bucket %s: %w", bucket, err)
			}
			return nil, fmt.Errorf("s3: client: %w", err)
		}
		o := c.Options()
		endpoint := "(aws)"
		if o.BaseEndpoint != nil {
			endpoint = *o.BaseEndpoint
		}
		log.Info("s3 client configured", "bucket", bucket, "endpoint", endpoint, "region", o.Region, "path_style", o.UsePathStyle, "static_credentials", k.accessKeyID != "", "profile", k.profile)
		clients[k] = c
		return c, nil
	}

	base := clientKey{
		endpoint: cfg.Endpoint, region: cfg.Region,
		accessKeyID: cfg.AccessKeyID, secretAccessKey: cfg.SecretAccessKey, sessionToken: cfg.SessionToken, profile: cfg.Profile,
	}
	if cfg.PathStyle != nil {
		base.pathStyleSet, base.pathStyle = true, *cfg.PathStyle
	}
	c, err := clientFor(base, "")
	if err != nil {
		return nil, err
	}
	s.def = target{client: c}
	for name, b := range cfg.Buckets {
		k := base
		if b.Endpoint != "" {
			k.endpoint = b.Endpoint
		}
		if b.Region != "" {
			k.region = b.Region
		}
		if b.PathStyle != nil {
			k.pathStyleSet, k.pathStyle = true, *b.PathStyle
		}
		if b.hasCredentials() {
			k.accessKeyID, k.secretAccessKey, k.sessionToken, k.profile = b.AccessKeyID, b.SecretAccessKey, b.SessionToken, b.Profile
		}
		c, err := clientFor(k, name)
		if err != nil {
			return nil, err
		}
		s.buckets[name] = target{client: c, name: b.Name}
	}
	return s, nil
}

// newClient loads the SDK configuration for k and builds its client.
func newClient(ctx context.Context, k clientKey, httpClient aws.HTTPClient) (*awss3.Client, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if k.region != "" {
		opts = append(opts, config.WithRegion(k.region))
	}
	if k.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(k.profile))
	}
	if k.accessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(k.accessKeyID, k.secretAccessKey, k.sessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	c := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		// NewFromConfig has already set BaseEndpoint from AWS_ENDPOINT_URL_S3,
		// AWS_ENDPOINT_URL or the profile; an explicit endpoint wins over those.
		if k.endpoint != "" {
			o.BaseEndpoint = aws.String(k.endpoint)
		}
		custom := o.BaseEndpoint != nil && *o.BaseEndpoint != ""
		if o.Region == "" && custom {
			o.Region = defaultRegion
		}
		o.UsePathStyle = custom
		if k.pathStyleSet {
			o.UsePathStyle = k.pathStyle
		}
	})
	if c.Options().Region == "" {
		return nil, fmt.Errorf("no region: set Region, AWS_REGION or a profile region, or use a custom Endpoint")
	}
	return c, nil
}

// PutObject stores o whole under o.Key, replacing any object there. Objects larger than the
// part size are uploaded in parts; a failed multipart upload is aborted. Errors are *Error,
// except for an invalid object, which wraps destination.ErrInvalidObject.
func (s *Store) PutObject(ctx context.Context, o destination.Object) error {
	if err := validateObject(o.Bucket, o.Key); err != nil {
		return err
	}
	t, bucket := s.target(o.Bucket)
	if err := ctx.Err(); err != nil {
		return newError(OpPut, bucket, o.Key, err)
	}
	contentType := o.ContentType
	if contentType == "" {
		contentType = defaultContentType
	}
	h := headers{contentType: contentType, contentEncoding: o.ContentEncoding, kmsKeyARN: o.KMSKeyARN}

	start := time.Now()
	parts := 1
	var err error
	if int64(len(o.Body)) > s.partSize {
		parts, err = s.putMultipart(ctx, t.client, bucket, o.Key, o.Body, h)
	} else {
		err = s.putSingle(ctx, t.client, bucket, o.Key, o.Body, h)
	}
	if err != nil {
		return newError(OpPut, bucket, o.Key, err)
	}
	s.retryAborts(ctx, t.client)
	s.log.Debug("s3 object stored", "bucket", bucket, "key", o.Key, "bytes", len(o.Body), "parts", parts, "duration", time.Since(start))
	return nil
}

// Exists reports whether bucket holds an object under key, with HeadObject. A 404 answer
// (NotFound, NoSuchKey) is false; so is a missing bucket, which HEAD cannot tell apart (its
// response has no body). Other failures are *Error with Op OpHead; an invalid bucket or key is
// refused before any request with an error wrapping destination.ErrInvalidObject.
func (s *Store) Exists(ctx context.Context, bucket, key string) (bool, error) {
	if err := validateObject(bucket, key); err != nil {
		return false, err
	}
	t, name := s.target(bucket)
	if err := ctx.Err(); err != nil {
		return false, newError(OpHead, name, key, err)
	}
	_, err := t.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(name), Key: aws.String(key)})
	if err == nil {
		return true, nil
	}
	e := newError(OpHead, name, key, err)
	if e.Code == "NotFound" || e.Code == "NoSuchKey" || (e.StatusCode == http.StatusNotFound && e.Code != "NoSuchBucket") {
		return false, nil
	}
	return false, e
}

// target returns the target of an ARN bucket name and the real bucket name on its store.
func (s *Store) target(bucket string) (target, string) {
	t, ok := s.buckets[bucket]
	if !ok {
		t = s.def
	}
	if t.name != "" {
		return t, t.name
	}
	return t, bucket
}

// headers are the object metadata sent with PutObject or CreateMultipartUpload.
type headers struct {
	contentType, contentEncoding, kmsKeyARN string
}

func (s *Store) putSingle(ctx context.Context, c *awss3.Client, bucket, key string, body []byte, h headers) error {
	in := &awss3.PutObjectInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ContentType:       aws.String(h.contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}
	if h.contentEncoding != "" {
		in.ContentEncoding = aws.String(h.contentEncoding)
	}
	if h.kmsKeyARN != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(h.kmsKeyARN)
	}
	_, err := c.PutObject(ctx, in, s.payloadOptions...)
	return err
}

// validateObject refuses, before any request, what S3 cannot store under the same key on every
// store (a key over 1,024 bytes or not UTF-8, an invalid bucket name), and what the
// conformance suite requires every destination to refuse (destination.CheckKey).
func validateObject(bucket, key string) error {
	if err := validateBucketName(bucket); err != nil {
		return fmt.Errorf("%w: %v", destination.ErrInvalidObject, err)
	}
	return destination.CheckKey(key)
}
