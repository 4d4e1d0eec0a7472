package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// Stream settings of the dynamically partitioned streams.
const (
	metadataQuery     = "{customer_id:.customer_id}"
	partitionPrefix   = partitionDir + "!{partitionKeyFromQuery:customer_id}/"
	errorOutputPrefix = errorDir + "/!{firehose:error-output-type}/"
)

// createStream creates a DirectPut stream delivering to the bucket named like the stream; with
// dynamic, it partitions by customer_id with a JQ MetadataExtraction processor. The records
// end in a newline already, so no AppendDelimiterToRecord processor is added.
func createStream(ctx context.Context, url, name string, dynamic bool, sizeMB, intervalS int) error {
	s := harness.StreamSpec{Name: name, Bucket: name, SizeMB: int32(sizeMB), IntervalS: int32(intervalS)}
	if dynamic {
		s.Configure = func(c *types.ExtendedS3DestinationConfiguration) {
			c.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)}
			c.Prefix = aws.String(partitionPrefix)
			c.ErrorOutputPrefix = aws.String(errorOutputPrefix)
			c.ProcessingConfiguration = &types.ProcessingConfiguration{
				Enabled: aws.Bool(true),
				Processors: []types.Processor{{
					Type: types.ProcessorTypeMetadataExtraction,
					Parameters: []types.ProcessorParameter{
						{ParameterName: types.ProcessorParameterNameMetadataExtractionQuery, ParameterValue: aws.String(metadataQuery)},
						{ParameterName: types.ProcessorParameterNameJsonParsingEngine, ParameterValue: aws.String("JQ-1.6")},
					},
				}},
			}
		}
	}
	return harness.CreateStream(ctx, harness.NewClient(url, 2, true), s)
}

// fetchPprof writes the profile a net/http/pprof URL answers to path.
func fetchPprof(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("fetch profile: status %d: %s", resp.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("fetch profile: %w", err)
	}
	return f.Close()
}
