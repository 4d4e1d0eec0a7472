package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/api/shape"
	"github.com/hydrant-dev/hydrant/internal/catalog"
	"github.com/hydrant-dev/hydrant/internal/delivery"
	"github.com/hydrant-dev/hydrant/internal/destination/httpendpoint"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

// HTTP endpoint destinations (docs/design/http-endpoint.md): the stored configuration, its
// validation and defaults, and the delivery spec of a stream that sends to an endpoint.

// HTTPEndpointConfig is Hydrant's side of HTTP endpoint delivery.
type HTTPEndpointConfig struct {
	// RequestTimeout bounds one attempt (connect, send, read the answer); default 3m, at most 15m.
	RequestTimeout Duration `json:"requestTimeout"`
	// CAFile names PEM certificates trusted beside the system's roots (which honour SSL_CERT_FILE).
	CAFile string `json:"caFile"`
	// AllowPlainHTTP accepts http:// endpoint URLs (never by default).
	AllowPlainHTTP bool `json:"allowPlainHTTP"`
}

func (c HTTPEndpointConfig) options() httpendpoint.Options {
	return httpendpoint.Options{Timeout: time.Duration(c.RequestTimeout), CAFile: c.CAFile, AllowPlainHTTP: c.AllowPlainHTTP}
}

// AWS's defaults for an HTTP endpoint destination, filled in so that Describe echoes them.
const (
	httpDefaultSizeMB      = 5
	httpDefaultIntervalSec = 300
	httpDefaultRetrySec    = 300
	// httpMaxBatchRecords is Firehose's bound on the records of one request.
	httpMaxBatchRecords = 10_000
)

// normalizeHTTPEndpoint validates an HTTP endpoint destination and returns its stored form,
// with AWS's defaults filled in.
func normalizeHTTPEndpoint(raw json.RawMessage) (catalog.Destination, error) {
	var c api.HttpEndpointDestinationConfiguration
	if err := json.Unmarshal(raw, &c); err != nil {
		return catalog.Destination{}, api.Errorf(api.CodeSerialization, "%v", err)
	}
	if err := checkHTTPEndpoint(&c); err != nil {
		return catalog.Destination{}, err
	}
	b, err := json.Marshal(withHTTPDefaults(c))
	if err != nil {
		return catalog.Destination{}, err
	}
	return catalog.Destination{Kind: "HttpEndpoint", Config: b}, nil
}

// checkHTTPEndpoint applies Firehose's semantic rules beyond the model's constraints.
func checkHTTPEndpoint(c *api.HttpEndpointDestinationConfiguration) error {
	if c.EndpointConfiguration == nil || c.EndpointConfiguration.URL == "" {
		return api.Errorf(api.CodeInvalidArgument, "EndpointConfiguration.Url must be specified for an HTTP endpoint destination.")
	}
	if c.S3Configuration == nil {
		return api.Errorf(api.CodeInvalidArgument, "S3Configuration must be specified for an HTTP endpoint destination.")
	}
	if err := checkHints(c.BufferingHints); err != nil {
		return err
	}
	if sm := c.SecretsManagerConfiguration; sm != nil && sm.Enabled != nil && *sm.Enabled {
		if deref(sm.SecretARN) == "" {
			return api.Errorf(api.CodeInvalidArgument, "SecretARN must be specified when SecretsManagerConfiguration is enabled.")
		}
		if deref(c.EndpointConfiguration.AccessKey) != "" {
			return api.Errorf(api.CodeInvalidArgument, "AccessKey must not be specified when SecretsManagerConfiguration is enabled.")
		}
	}
	if rc := c.RequestConfiguration; rc != nil {
		seen := map[string]bool{}
		for _, a := range rc.CommonAttributes {
			if seen[a.AttributeName] {
				return api.Errorf(api.CodeInvalidArgument, "Duplicate CommonAttributes AttributeName %q.", a.AttributeName)
			}
			seen[a.AttributeName] = true
		}
	}
	s3 := fromLegacyS3(c.S3Configuration)
	s3.ProcessingConfiguration = c.ProcessingConfiguration
	return checkExtendedS3(s3)
}

// withHTTPDefaults fills in the members AWS reports for an HTTP endpoint destination.
func withHTTPDefaults(c api.HttpEndpointDestinationConfiguration) api.HttpEndpointDestinationConfiguration {
	if c.BufferingHints == nil {
		c.BufferingHints = &api.BufferingHints{SizeInMBs: ptr(httpDefaultSizeMB), IntervalInSeconds: ptr(httpDefaultIntervalSec)}
	}
	if c.RequestConfiguration == nil {
		c.RequestConfiguration = &api.HttpEndpointRequestConfiguration{}
	}
	if c.RequestConfiguration.ContentEncoding == "" {
		c.RequestConfiguration.ContentEncoding = "NONE"
	}
	if c.RetryOptions == nil || c.RetryOptions.DurationInSeconds == nil {
		c.RetryOptions = &api.RetryOptions{DurationInSeconds: ptr(httpDefaultRetrySec)}
	}
	if c.S3BackupMode == "" {
		c.S3BackupMode = "FailedDataOnly"
	}
	if c.CloudWatchLoggingOptions == nil {
		c.CloudWatchLoggingOptions = &api.CloudWatchLoggingOptions{Enabled: ptr(false)}
	}
	if c.S3Configuration != nil {
		c.S3Configuration = withLegacyS3Defaults(c.S3Configuration)
	}
	return c
}

// httpSpec translates a stored HTTP endpoint destination into a delivery spec: the destination
// leg sends batches to the endpoint and writes failed records to S3Configuration's bucket;
// with S3BackupMode AllData a backup leg writes every source record there too.
func (s *Server) httpSpec(st catalog.Stream) (delivery.Spec, error) {
	var c api.HttpEndpointDestinationConfiguration
	if err := json.Unmarshal(st.Destination.Config, &c); err != nil {
		return delivery.Spec{}, fmt.Errorf("decode HTTP endpoint destination: %w", err)
	}
	if c.EndpointConfiguration == nil || c.S3Configuration == nil {
		return delivery.Spec{}, errors.New("the HTTP endpoint destination has no EndpointConfiguration or S3Configuration")
	}
	c = withHTTPDefaults(c)
	ec := httpendpoint.Config{
		URL:       c.EndpointConfiguration.URL,
		AccessKey: deref(c.EndpointConfiguration.AccessKey),
		GZIP:      c.RequestConfiguration.ContentEncoding == "GZIP",
		SourceARN: st.ARN,
	}
	for _, a := range c.RequestConfiguration.CommonAttributes {
		ec.CommonAttributes = append(ec.CommonAttributes, httpendpoint.Attribute{Name: a.AttributeName, Value: a.AttributeValue})
	}
	if sm := c.SecretsManagerConfiguration; sm != nil && sm.Enabled != nil && *sm.Enabled {
		ec.Key = s.secrets.Source(deref(sm.SecretARN))
	}
	ep, err := s.httpClient.Endpoint(ec)
	if err != nil {
		return delivery.Spec{}, err
	}
	s3 := c.S3Configuration
	main, err := legFor(delivery.LegDestination, s3.BucketARN, deref(s3.Prefix), s3.CompressionFormat, s3.EncryptionConfiguration,
		c.BufferingHints, "", "")
	if err != nil {
		return delivery.Spec{}, err
	}
	if main.ErrorPrefix, err = prefix.ErrorPrefix(deref(s3.Prefix), deref(s3.ErrorOutputPrefix)); err != nil {
		return delivery.Spec{}, err
	}
	main.Endpoint = ep
	main.RetryFor = time.Duration(*c.RetryOptions.DurationInSeconds) * time.Second
	main.MaxRecords = httpMaxBatchRecords
	if specs := processorSpecs(c.ProcessingConfiguration); len(specs) > 0 {
		inv, err := s.invoker(specs)
		if err != nil {
			return delivery.Spec{}, err
		}
		p, err := processor.New(processor.Config{Processors: specs, DeliveryStreamARN: st.ARN, Region: s.cfg.Region}, inv, s.now)
		if err != nil {
			return delivery.Spec{}, err
		}
		main.Processor = p
		for _, sp := range specs {
			main.HasLambda = main.HasLambda || sp.Type == processor.TypeLambda
		}
	}
	main.MaxBufferedBytes = max(s.cfg.MaxBufferBytes, main.SizeBytes+4<<20)
	spec := delivery.Spec{Stream: st.Name, Version: st.Version, Created: st.Created, Legs: []delivery.LegSpec{main}}
	if c.S3BackupMode == "AllData" {
		backup, err := legFor(delivery.LegBackup, s3.BucketARN, deref(s3.Prefix), s3.CompressionFormat, s3.EncryptionConfiguration,
			s3.BufferingHints, "", "")
		if err != nil {
			return delivery.Spec{}, err
		}
		spec.Legs = append(spec.Legs, backup)
	}
	return spec, nil
}

// urlMembers are the request members whose EndpointConfiguration.Url the model's pattern
// (https://.*) checks.
var urlMembers = map[string]string{
	"CreateDeliveryStream": "HttpEndpointDestinationConfiguration",
	"UpdateDestination":    "HttpEndpointDestinationUpdate",
}

// validator validates requests against the model. With allowPlainHTTP, the pattern violation
// of an http:// endpoint URL is forgiven (the only difference from shape.Validate).
func validator(allowPlainHTTP bool) func(operation string, body []byte) error {
	return func(operation string, body []byte) error {
		err := shape.Validate(operation, body)
		var ve *shape.ValidationError
		member, ok := urlMembers[operation]
		if !allowPlainHTTP || !ok || !errors.As(err, &ve) || !plainHTTPURL(member, body) {
			return err
		}
		path := strings.ToLower(member[:1]) + member[1:] + ".endpointConfiguration.url"
		kept := ve.Violations[:0:0]
		for _, v := range ve.Violations {
			if v.Path == path && strings.Contains(v.Constraint, "pattern") {
				continue
			}
			kept = append(kept, v)
		}
		if len(kept) == 0 {
			return nil
		}
		return &shape.ValidationError{Violations: kept}
	}
}

// plainHTTPURL reports whether the request's endpoint URL starts with http://.
func plainHTTPURL(member string, body []byte) bool {
	var in map[string]json.RawMessage
	if json.Unmarshal(body, &in) != nil {
		return false
	}
	raw := in[member]
	var d struct {
		EndpointConfiguration *struct{ Url string }
	}
	if json.Unmarshal(raw, &d) != nil || d.EndpointConfiguration == nil {
		return false
	}
	return strings.HasPrefix(d.EndpointConfiguration.Url, "http://")
}
