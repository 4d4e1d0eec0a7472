// Command scenario is the AWS SDK "Firehose scenario" written with pkg/producer: it
// generates 2,550 mock web-traffic records (JSON lines), sends the first ones one by one
// with PutRecord and the rest with PutRecordBatch in chunks within the 500-record and
// 4 MiB limits, both with exponential back-off and full jitter, logs every outcome with
// log/slog, and then checks the stream's IncomingRecords and IncomingBytes metrics
// through the CloudWatch GetMetricStatistics API.
//
// Against Hydrant (the default, -endpoint-url http://127.0.0.1:4573) it creates the stream
// if it is missing. With -endpoint-url "" it talks to AWS with the default configuration
// chain; the stream must exist, and CloudWatch metrics there take minutes to appear, so
// raise -metrics-wait.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/pkg/producer"
)

// Options are the scenario's parameters.
type Options struct {
	// EndpointURL is the Firehose and CloudWatch endpoint; empty means AWS.
	EndpointURL string
	// Stream is the delivery stream; Region the AWS region.
	Stream, Region string
	// Records is how many records to send, Single how many of them with PutRecord.
	Records, Single int
	// MetricsWait is how long to poll CloudWatch for the expected sums.
	MetricsWait time.Duration
	// Retry configures the producer's retries.
	Retry producer.Config
}

// Summary is what the scenario sent and what CloudWatch reported.
type Summary struct {
	Sent, Failed               int
	SentBytes                  int
	Retried                    int
	MetricRecords, MetricBytes float64
}

func main() {
	var o Options
	flag.StringVar(&o.EndpointURL, "endpoint-url", "http://127.0.0.1:4573", "Firehose and CloudWatch endpoint; empty for AWS")
	flag.StringVar(&o.Stream, "stream", "hydrant-scenario", "delivery stream name")
	flag.StringVar(&o.Region, "region", "us-east-1", "AWS region")
	flag.IntVar(&o.Records, "records", 2550, "records to send")
	flag.IntVar(&o.Single, "single", 50, "how many of the records to send with PutRecord")
	flag.DurationVar(&o.MetricsWait, "metrics-wait", 10*time.Second, "how long to poll the metrics for the expected sums")
	flag.IntVar(&o.Retry.MaxTrials, "max-trials", 5, "attempts per record")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	o.Retry.Logger = log
	sum, err := Run(context.Background(), o, log)
	if err != nil {
		log.Error("scenario failed", "err", err)
		os.Exit(1)
	}
	log.Info("scenario done", "stream", o.Stream, "sent", sum.Sent, "bytes", sum.SentBytes, "failed", sum.Failed,
		"retried", sum.Retried, "incoming_records", sum.MetricRecords, "incoming_bytes", sum.MetricBytes)
}

// Run runs the scenario.
func Run(ctx context.Context, o Options, log *slog.Logger) (Summary, error) {
	start := time.Now()
	awsCfg, err := loadConfig(ctx, o)
	if err != nil {
		return Summary{}, err
	}
	client := firehose.NewFromConfig(awsCfg, func(fo *firehose.Options) {
		if o.EndpointURL != "" {
			fo.BaseEndpoint = aws.String(o.EndpointURL)
		}
	})
	if o.EndpointURL != "" {
		if err := ensureStream(ctx, client, o.Stream, log); err != nil {
			return Summary{}, err
		}
	}
	records := MockRecords(o.Records, 1)
	single := min(o.Single, len(records))
	var sum Summary

	// PutRecord, one by one.
	for _, r := range records[:single] {
		if _, err := producer.PutRecord(ctx, client, o.Stream, r, o.Retry); err != nil {
			sum.Failed++
			log.Error("record not delivered", "stream", o.Stream, "err", err)
			continue
		}
		sum.Sent++
		sum.SentBytes += len(r)
	}
	log.Info("put records done", "stream", o.Stream, "records", single, "failed", sum.Failed)

	// PutRecordBatch, chunked within the limits.
	rest := records[single:]
	chunks, _ := producer.Chunks(rest)
	log.Info("put record batches", "stream", o.Stream, "records", len(rest), "chunks", len(chunks))
	res, err := producer.PutRecordBatch(ctx, client, o.Stream, rest, o.Retry)
	if err != nil {
		return sum, err
	}
	failed := map[int]bool{}
	for _, f := range res.Failed {
		failed[f.Index] = true
		log.Error("record not delivered", "stream", o.Stream, "index", single+f.Index, "code", f.ErrorCode, "err", f.ErrorMessage, "attempt", f.Attempts)
	}
	for i, r := range rest {
		if !failed[i] {
			sum.SentBytes += len(r)
		}
	}
	sum.Sent += res.Sent
	sum.Failed += len(res.Failed)
	sum.Retried = res.Retried
	log.Info("put record batches done", "stream", o.Stream, "records", len(rest), "failed", len(res.Failed), "retried", res.Retried)

	// CloudWatch: IncomingRecords and IncomingBytes must add up to what was acknowledged.
	cw := cloudWatch{endpoint: o.EndpointURL, region: o.Region, creds: awsCfg.Credentials, http: http.DefaultClient}
	if cw.endpoint == "" {
		cw.endpoint = "https://monitoring." + o.Region + ".amazonaws.com"
	}
	from := start.Add(-time.Minute).Truncate(time.Minute)
	deadline := time.Now().Add(o.MetricsWait)
	for {
		to := time.Now().Add(time.Minute).Truncate(time.Minute)
		sum.MetricRecords, err = cw.sum(ctx, o.Stream, "IncomingRecords", from, to)
		if err == nil {
			sum.MetricBytes, err = cw.sum(ctx, o.Stream, "IncomingBytes", from, to)
		}
		if err != nil {
			return sum, fmt.Errorf("get metric statistics: %w", err)
		}
		log.Info("metrics", "stream", o.Stream, "incoming_records", sum.MetricRecords, "incoming_bytes", sum.MetricBytes,
			"want_records", sum.Sent, "want_bytes", sum.SentBytes)
		if sum.MetricRecords == float64(sum.Sent) && sum.MetricBytes == float64(sum.SentBytes) {
			break
		}
		if time.Now().After(deadline) {
			return sum, fmt.Errorf("metrics: IncomingRecords %v, IncomingBytes %v; want %d, %d",
				sum.MetricRecords, sum.MetricBytes, sum.Sent, sum.SentBytes)
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return sum, ctx.Err()
		}
	}
	if sum.Failed > 0 {
		return sum, fmt.Errorf("%d records not delivered", sum.Failed)
	}
	return sum, nil
}

func loadConfig(ctx context.Context, o Options) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
	if o.EndpointURL != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("hydrant", "hydrant", "")))
	}
	c, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return c, fmt.Errorf("load AWS config: %w", err)
	}
	return c, nil
}

// ensureStream creates stream, delivering to the bucket of the same name, when it is
// missing, and waits until it is ACTIVE.
func ensureStream(ctx context.Context, c *firehose.Client, stream string, log *slog.Logger) error {
	_, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		_, err = c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName: aws.String(stream),
			DeliveryStreamType: types.DeliveryStreamTypeDirectPut,
			ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
				RoleARN:   aws.String("arn:aws:iam::000000000000:role/firehose"),
				BucketARN: aws.String("arn:aws:s3:::" + stream),
			},
		})
		if err != nil {
			return fmt.Errorf("create delivery stream: %w", err)
		}
		log.Info("delivery stream created", "stream", stream)
	case err != nil:
		return fmt.Errorf("describe delivery stream: %w", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
		if err != nil {
			return fmt.Errorf("describe delivery stream: %w", err)
		}
		status := out.DeliveryStreamDescription.DeliveryStreamStatus
		if status == types.DeliveryStreamStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("delivery stream %s is %s after 30s", stream, status)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// cloudWatch calls GetMetricStatistics with the AWS JSON 1.0 protocol, signed with
// SigV4 for the service "monitoring".
type cloudWatch struct {
	endpoint, region string
	creds            aws.CredentialsProvider
	http             *http.Client
}

type datapoint struct {
	Sum float64 `json:"Sum"`
}

// sum returns the Sum of metric of stream over [from, to).
func (c cloudWatch) sum(ctx context.Context, stream, metric string, from, to time.Time) (float64, error) {
	body, err := json.Marshal(map[string]any{
		"Namespace":  "AWS/Firehose",
		"MetricName": metric,
		"Dimensions": []map[string]string{{"Name": "DeliveryStreamName", "Value": stream}},
		"StartTime":  from.Unix(),
		"EndTime":    to.Unix(),
		"Period":     int(to.Sub(from) / time.Second),
		"Statistics": []string{"Sum"},
	})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801.GetMetricStatistics")
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return 0, fmt.Errorf("retrieve credentials: %w", err)
	}
	h := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(h[:]), "monitoring", c.region, time.Now()); err != nil {
		return 0, fmt.Errorf("sign: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var out struct{ Datapoints []datapoint }
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, fmt.Errorf("decode response: %w", err)
	}
	total := 0.0
	for _, d := range out.Datapoints {
		total += d.Sum
	}
	return total, nil
}

// MockRecords returns n mock web-traffic records as JSON lines, the same for the same
// seed.
func MockRecords(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	paths := []string{"/", "/index.html", "/products", "/products/42", "/cart", "/checkout", "/api/v1/orders", "/login", "/search?q=shoes"}
	statuses := []int{200, 200, 200, 200, 201, 301, 304, 400, 404, 500, 503}
	referrers := []string{"-", "https://www.google.com/", "https://www.bing.com/", "https://example.com/blog", "https://t.co/x"}
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"curl/8.8.0",
	}
	base := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	var buf bytes.Buffer
	for i := range out {
		rec := struct {
			IP        string `json:"ip"`
			Timestamp string `json:"timestamp"`
			Method    string `json:"method"`
			Path      string `json:"path"`
			Status    int    `json:"status"`
			Bytes     int    `json:"bytes"`
			Referrer  string `json:"referrer"`
			UserAgent string `json:"user_agent"`
			Session   string `json:"session"`
		}{
			IP:        fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(223), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254)),
			Timestamp: base.Add(time.Duration(i)*time.Second + time.Duration(rng.IntN(1000))*time.Millisecond).Format(time.RFC3339Nano),
			Method:    methods[rng.IntN(len(methods))],
			Path:      paths[rng.IntN(len(paths))],
			Status:    statuses[rng.IntN(len(statuses))],
			Bytes:     200 + rng.IntN(50_000),
			Referrer:  referrers[rng.IntN(len(referrers))],
			UserAgent: agents[rng.IntN(len(agents))],
			Session:   fmt.Sprintf("%016x", rng.Uint64()),
		}
		buf.Reset()
		if err := json.NewEncoder(&buf).Encode(rec); err != nil { // ends with '\n'
			panic(err) // cannot fail for this struct
		}
		out[i] = bytes.Clone(buf.Bytes())
	}
	return out
}
