package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

// AWS's defaults for an S3 destination, filled in so that Describe echoes them.
const (
	defaultSizeMB      = 5
	defaultIntervalSec = 300
	dynamicSizeMB      = 128 // the default when dynamic partitioning is enabled
	minDynamicSizeMB   = 64
	dpRetryDefaultSec  = 300
)

func ptr[T any](v T) *T { return &v }

// fromLegacyS3 turns a deprecated S3DestinationConfiguration into the ExtendedS3 form it
// is stored and delivered as.
func fromLegacyS3(c *api.S3DestinationConfiguration) *api.ExtendedS3DestinationConfiguration {
	return &api.ExtendedS3DestinationConfiguration{
		RoleARN:                  c.RoleARN,
		BucketARN:                c.BucketARN,
		Prefix:                   c.Prefix,
		ErrorOutputPrefix:        c.ErrorOutputPrefix,
		BufferingHints:           c.BufferingHints,
		CompressionFormat:        c.CompressionFormat,
		EncryptionConfiguration:  c.EncryptionConfiguration,
		CloudWatchLoggingOptions: c.CloudWatchLoggingOptions,
	}
}

// checkHints enforces that BufferingHints carry both members or neither.
func checkHints(h *api.BufferingHints) error {
	if h == nil {
		return nil
	}
	if (h.SizeInMBs == nil) != (h.IntervalInSeconds == nil) {
		return api.Errorf(api.CodeInvalidArgument, "BufferingHints must specify both SizeInMBs and IntervalInSeconds, or neither.")
	}
	return nil
}

func dynamicEnabled(c *api.ExtendedS3DestinationConfiguration) bool {
	return c.DynamicPartitioningConfiguration != nil && c.DynamicPartitioningConfiguration.Enabled != nil && *c.DynamicPartitioningConfiguration.Enabled
}

// checkExtendedS3 applies Firehose's semantic rules to an S3 destination, beyond the model's
// constraints, and returns InvalidArgumentException errors in AWS's words.
func checkExtendedS3(c *api.ExtendedS3DestinationConfiguration) error {
	if err := checkHints(c.BufferingHints); err != nil {
		return err
	}
	dynamic := dynamicEnabled(c)
	if dynamic && c.BufferingHints != nil && c.BufferingHints.SizeInMBs != nil && *c.BufferingHints.SizeInMBs < minDynamicSizeMB {
		return api.Errorf(api.CodeInvalidArgument, "BufferingHints.SizeInMBs must be at least %d when Dynamic Partitioning is enabled.", minDynamicSizeMB)
	}
	if err := prefix.ValidateS3(prefix.Prefixes{
		Prefix:              deref(c.Prefix),
		ErrorOutputPrefix:   deref(c.ErrorOutputPrefix),
		DynamicPartitioning: dynamic,
	}); err != nil {
		return api.Errorf(api.CodeInvalidArgument, "%s", err.Error())
	}
	specs := processorSpecs(c.ProcessingConfiguration)
	if err := processor.Validate(specs); err != nil {
		return api.Errorf(api.CodeInvalidArgument, "%s", err.Error())
	}
	if dynamic {
		if err := checkPartitionKeys(deref(c.Prefix), specs); err != nil {
			return err
		}
	}
	loc, err := prefix.Location(deref(c.CustomTimeZone))
	if err != nil {
		return api.Errorf(api.CodeInvalidArgument, "CustomTimeZone %q is not a valid time zone.", deref(c.CustomTimeZone))
	}
	if !dynamic {
		// Without partition keys an evaluated prefix has the same length at every instant, so a
		// prefix that would exceed the limit is refused now rather than failing every delivery.
		if err := checkEvaluatedLength(deref(c.Prefix), deref(c.ErrorOutputPrefix), loc); err != nil {
			return err
		}
	}
	if c.S3BackupMode == "Enabled" && c.S3BackupConfiguration == nil {
		return api.Errorf(api.CodeInvalidArgument, "S3BackupConfiguration must be specified when S3BackupMode is Enabled.")
	}
	if c.S3BackupConfiguration != nil {
		if err := checkHints(c.S3BackupConfiguration.BufferingHints); err != nil {
			return err
		}
		// The backup's ErrorOutputPrefix is ignored by Firehose; its Prefix must parse.
		if _, err := prefix.Parse(deref(c.S3BackupConfiguration.Prefix)); err != nil {
			return api.Errorf(api.CodeInvalidArgument, "%s", err.Error())
		}
	}
	if len(c.DataFormatConversionConfiguration) > 0 && string(c.DataFormatConversionConfiguration) != "null" {
		var dfc struct{ Enabled *bool }
		if err := json.Unmarshal(c.DataFormatConversionConfiguration, &dfc); err == nil && (dfc.Enabled == nil || *dfc.Enabled) {
			if c.BufferingHints != nil && c.BufferingHints.SizeInMBs != nil && *c.BufferingHints.SizeInMBs < minDynamicSizeMB {
				return api.Errorf(api.CodeInvalidArgument, "BufferingHints.SizeInMBs must be at least %d when data format conversion is enabled.", minDynamicSizeMB)
			}
		}
	}
	return nil
}

// checkEvaluatedLength evaluates the data and error prefixes once and refuses them when the
// result is longer than Firehose allows.
func checkEvaluatedLength(pfx, errPfx string, loc *time.Location) error {
	data, err := prefix.DataPrefix(pfx)
	if err != nil {
		return api.Errorf(api.CodeInvalidArgument, "%s", err.Error())
	}
	errs, err := prefix.ErrorPrefix(pfx, errPfx)
	if err != nil {
		return api.Errorf(api.CodeInvalidArgument, "%s", err.Error())
	}
	v := prefix.Values{Time: time.Now(), Location: loc, ErrorOutputType: "processing-failed"}
	for _, e := range []*prefix.Expr{data, errs} {
		if _, err := e.Eval(v); errors.Is(err, prefix.ErrTooLong) {
			return api.Errorf(api.CodeInvalidArgument, "The evaluated prefix %q is longer than %d characters.", e.String(), prefix.MaxLen)
		}
	}
	return nil
}

// processorSpecs returns the processors of an enabled ProcessingConfiguration. Enabled
// defaults to true when processors are listed.
func processorSpecs(pc *api.ProcessingConfiguration) []processor.Spec {
	if pc == nil || (pc.Enabled != nil && !*pc.Enabled) {
		return nil
	}
	specs := make([]processor.Spec, 0, len(pc.Processors))
	for _, p := range pc.Processors {
		params := make(map[string]string, len(p.Parameters))
		for _, kv := range p.Parameters {
			params[kv.ParameterName] = kv.ParameterValue
		}
		specs = append(specs, processor.Spec{Type: p.Type, Parameters: params})
	}
	return specs
}

// noInvoker compiles a pipeline for its static facts; it never runs.
type noInvoker struct{}

func (noInvoker) Invoke(context.Context, string, []byte) ([]byte, error) {
	return nil, errors.New("not invoked")
}

// checkPartitionKeys applies the dynamic partitioning rules that tie the Prefix to the
// processors: the namespaces it uses need their processor, and every key the JQ query produces
// must appear in the Prefix.
func checkPartitionKeys(pfx string, specs []processor.Spec) error {
	expr, err := prefix.Parse(pfx)
	if err != nil {
		return api.Errorf(api.CodeInvalidArgument, "%s", err.Error())
	}
	has := map[string]bool{}
	for _, s := range specs {
		has[s.Type] = true
	}
	if len(expr.QueryKeys()) > 0 && !has[processor.TypeMetadataExtraction] {
		return api.Errorf(api.CodeInvalidArgument, "MetadataExtraction processor should be present when S3 Prefix has partitionKeyFromQuery namespace")
	}
	if len(expr.LambdaKeys()) > 0 && !has[processor.TypeLambda] {
		return api.Errorf(api.CodeInvalidArgument, "Lambda should be present when S3 Prefix contains keys from partitionKeyFromLambda namespace")
	}
	if !has[processor.TypeMetadataExtraction] {
		return nil
	}
	p, err := processor.New(processor.Config{Processors: specs}, noInvoker{}, nil)
	if err != nil {
		return api.Errorf(api.CodeInvalidArgument, "%s", err.Error())
	}
	used := map[string]bool{}
	for _, k := range expr.QueryKeys() {
		used[k] = true
	}
	for _, k := range p.QueryKeys() {
		if !used[k] {
			return api.Errorf(api.CodeInvalidArgument, "The partition key %q of the MetadataExtractionQuery is not used in the S3 Prefix; every key must be used.", k)
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// withS3Defaults fills in the members AWS reports for an S3 destination when they were not given.
func withS3Defaults(c api.ExtendedS3DestinationConfiguration) api.ExtendedS3DestinationConfiguration {
	size := defaultSizeMB
	if dynamicEnabled(&c) {
		size = dynamicSizeMB
		if c.DynamicPartitioningConfiguration.RetryOptions == nil {
			c.DynamicPartitioningConfiguration.RetryOptions = &api.RetryOptions{DurationInSeconds: ptr(dpRetryDefaultSec)}
		}
	}
	if c.BufferingHints == nil {
		c.BufferingHints = &api.BufferingHints{SizeInMBs: ptr(size), IntervalInSeconds: ptr(defaultIntervalSec)}
	}
	if c.CompressionFormat == "" {
		c.CompressionFormat = api.Uncompressed
	}
	if c.EncryptionConfiguration == nil || (c.EncryptionConfiguration.KMSEncryptionConfig == nil && c.EncryptionConfiguration.NoEncryptionConfig == "") {
		c.EncryptionConfiguration = &api.EncryptionConfiguration{NoEncryptionConfig: "NoEncryption"}
	}
	if c.CloudWatchLoggingOptions == nil {
		c.CloudWatchLoggingOptions = &api.CloudWatchLoggingOptions{Enabled: ptr(false)}
	}
	if c.S3BackupMode == "" {
		c.S3BackupMode = "Disabled"
	}
	if c.Prefix == nil {
		c.Prefix = ptr("")
	}
	if c.ProcessingConfiguration != nil {
		for i := range c.ProcessingConfiguration.Processors {
			if c.ProcessingConfiguration.Processors[i].Parameters == nil {
				c.ProcessingConfiguration.Processors[i].Parameters = []api.ProcessorParameter{}
			}
		}
	}
	if c.S3BackupConfiguration != nil {
		c.S3BackupConfiguration = withLegacyS3Defaults(c.S3BackupConfiguration)
	}
	return c
}

// withLegacyS3Defaults returns an S3DestinationConfiguration (a backup's, an HTTP endpoint's)
// with the members AWS reports filled in.
func withLegacyS3Defaults(c *api.S3DestinationConfiguration) *api.S3DestinationConfiguration {
	b := withS3Defaults(*fromLegacyS3(c))
	return &api.S3DestinationConfiguration{
		RoleARN: b.RoleARN, BucketARN: b.BucketARN, Prefix: b.Prefix, ErrorOutputPrefix: b.ErrorOutputPrefix,
		BufferingHints: b.BufferingHints, CompressionFormat: b.CompressionFormat,
		EncryptionConfiguration: b.EncryptionConfiguration, CloudWatchLoggingOptions: b.CloudWatchLoggingOptions,
	}
}

// describeS3 renders a stored S3 destination as Describe returns it: the ExtendedS3
// description and the legacy S3 description beside it.
func describeS3(raw json.RawMessage) (*api.ExtendedS3DestinationDescription, *api.S3DestinationConfiguration, error) {
	var c api.ExtendedS3DestinationConfiguration
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, nil, fmt.Errorf("decode stored S3 destination: %w", err)
	}
	c = withS3Defaults(c)
	dfc := c.DataFormatConversionConfiguration
	if len(dfc) == 0 {
		dfc = json.RawMessage(`{"Enabled":false}`)
	}
	ext := &api.ExtendedS3DestinationDescription{
		RoleARN: c.RoleARN, BucketARN: c.BucketARN, Prefix: c.Prefix, ErrorOutputPrefix: c.ErrorOutputPrefix,
		BufferingHints: c.BufferingHints, CompressionFormat: c.CompressionFormat,
		EncryptionConfiguration: c.EncryptionConfiguration, CloudWatchLoggingOptions: c.CloudWatchLoggingOptions,
		ProcessingConfiguration: c.ProcessingConfiguration, S3BackupMode: c.S3BackupMode,
		S3BackupDescription: c.S3BackupConfiguration, DataFormatConversionConfiguration: dfc,
		DynamicPartitioningConfiguration: c.DynamicPartitioningConfiguration,
		FileExtension:                    c.FileExtension, CustomTimeZone: c.CustomTimeZone,
	}
	legacy := &api.S3DestinationConfiguration{
		RoleARN: c.RoleARN, BucketARN: c.BucketARN, Prefix: c.Prefix, ErrorOutputPrefix: c.ErrorOutputPrefix,
		BufferingHints: c.BufferingHints, CompressionFormat: c.CompressionFormat,
		EncryptionConfiguration: c.EncryptionConfiguration, CloudWatchLoggingOptions: c.CloudWatchLoggingOptions,
	}
	return ext, legacy, nil
}
