package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go/middleware"
)

// NewClient returns the aws-sdk-go-v2 Firehose client the benchmarks measure with: no
// retries (a refused call is counted, not hidden), pooled connections, SigV4 signatures. Unless
// signPayload is set the signature covers UNSIGNED-PAYLOAD instead of the body's SHA-256: the
// client shares the machine's two cores with the server, and hashing every 5.6 MB body at
// 170-340 MB/s per core measures the client, not the server. Neither Hydrant nor moto verifies
// signatures; moto needs the Authorization header to route the request.
func NewClient(url string, conns int, signPayload bool) *firehose.Client {
	var apiOptions []func(*middleware.Stack) error
	if !signPayload {
		apiOptions = append(apiOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
	return firehose.New(firehose.Options{
		BaseEndpoint: aws.String(url),
		Region:       "us-east-1",
		APIOptions:   apiOptions,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient: &http.Client{
			Timeout:   2 * time.Minute,
			Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns},
		},
	})
}

// StreamSpec is an ExtendedS3 DirectPut stream to create.
type StreamSpec struct {
	Name, Bucket      string
	SizeMB, IntervalS int32
	Compression       types.CompressionFormat // empty: the API's default, UNCOMPRESSED
	// Configure, when set, adjusts the destination configuration before the stream is
	// created (processing, dynamic partitioning, prefixes).
	Configure func(*types.ExtendedS3DestinationConfiguration)
}

// CreateStream creates the stream and waits until it is ACTIVE.
func CreateStream(ctx context.Context, c *firehose.Client, s StreamSpec) error {
	dest := &types.ExtendedS3DestinationConfiguration{
		RoleARN:   aws.String("arn:aws:iam::000000000000:role/bench"),
		BucketARN: aws.String("arn:aws:s3:::" + s.Bucket),
		BufferingHints: &types.BufferingHints{
			SizeInMBs: aws.Int32(s.SizeMB), IntervalInSeconds: aws.Int32(s.IntervalS),
		},
		CompressionFormat: s.Compression,
	}
	if s.Configure != nil {
		s.Configure(dest)
	}
	_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName:                 aws.String(s.Name),
		ExtendedS3DestinationConfiguration: dest,
	})
	if err != nil {
		return fmt.Errorf("create delivery stream %s: %w", s.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(s.Name)})
		if err != nil {
			return fmt.Errorf("describe delivery stream %s: %w", s.Name, err)
		}
		if out.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream %s not ACTIVE: %w", s.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Flush calls Hydrant's POST /_hydrant/flush?stream=NAME, which answers once every record
// acknowledged before the call is in objects.
func Flush(ctx context.Context, url, stream string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/_hydrant/flush?stream="+stream, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("flush %s: %w", stream, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("flush %s: status %d: %s", stream, resp.StatusCode, b)
	}
	return nil
}

// LegStatus is one leg of Hydrant's GET /_hydrant/streams/NAME/delivery: what its buffers
// hold and what it has written.
type LegStatus struct {
	Leg                  string  `json:"leg"`
	Bucket               string  `json:"bucket"`
	BufferedBytes        int64   `json:"bufferedBytes"`
	BufferedRecords      int64   `json:"bufferedRecords"`
	Objects              int64   `json:"objects"`
	Bytes                int64   `json:"bytes"`
	Records              int64   `json:"records"`
	Partitions           int     `json:"partitions"`
	PartitionLimitHits   int64   `json:"partitionLimitHits"`
	FailedRecords        int64   `json:"failedRecords"`
	DataFreshnessSeconds float64 `json:"dataFreshnessSeconds"`
}

// DeliveryStatus reads Hydrant's delivery status of stream and returns its destination leg.
func DeliveryStatus(ctx context.Context, url, stream string) (LegStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_hydrant/streams/"+stream+"/delivery", nil)
	if err != nil {
		return LegStatus{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return LegStatus{}, fmt.Errorf("delivery status %s: %w", stream, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return LegStatus{}, fmt.Errorf("delivery status %s: status %d: %s", stream, resp.StatusCode, b)
	}
	var out struct {
		Legs []LegStatus `json:"legs"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return LegStatus{}, fmt.Errorf("delivery status %s: %w", stream, err)
	}
	for _, l := range out.Legs {
		if l.Leg == "destination" {
			return l, nil
		}
	}
	return LegStatus{}, fmt.Errorf("delivery status %s: no destination leg in %s", stream, b)
}
