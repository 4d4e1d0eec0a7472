package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// startWithMinIO runs a server whose buckets all live in a fresh MinIO; mutate changes the
// rest of its configuration.
func startWithMinIO(t *testing.T, mutate ...func(*Config)) (*testServer, *testenv.MinIO) {
	t.Helper()
	m := testenv.StartMinIO(t)
	ts := startServer(t, "", append([]func(*Config){func(c *Config) {
		c.ObjectStore = StoreS3
		c.S3.Endpoint = m.Endpoint()
		c.S3.Region = "us-east-1"
		c.S3.AccessKeyID, c.S3.SecretAccessKey = m.AccessKey(), m.SecretKey()
	}}, mutate...)...)
	return ts, m
}

// prefixKind is one way of writing an S3 Prefix, with the key shape it must produce.
type prefixKind struct {
	name     string
	prefix   *string
	errorOut *string
	zone     *string
	// keyRE matches the whole key; %s is replaced by the stream name.
	keyRE string
}

var prefixKinds = []prefixKind{
	{name: "none", keyRE: `^\d{4}/\d{2}/\d{2}/\d{2}/%s-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}%s$`},
	{name: "plain", prefix: aws.String("raw/"), keyRE: `^raw/\d{4}/\d{2}/\d{2}/\d{2}/%s-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}%s$`},
	{
		name: "expressions in Asia/Tokyo", zone: aws.String("Asia/Tokyo"),
		prefix:   aws.String("logs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/!{firehose:random-string}/"),
		errorOut: aws.String("errors/!{firehose:error-output-type}/!{timestamp:yyyy}/"),
		keyRE:    `^logs/year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/[0-9a-f]{11}/%s-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}%s$`,
	},
}

// forEachPermutation runs fn for every compression format × prefix kind.
func forEachPermutation(t *testing.T, fn func(t *testing.T, f compress.Format, p prefixKind)) {
	for _, f := range compress.Formats() {
		for _, p := range prefixKinds {
			t.Run(string(f)+"/"+p.name, func(t *testing.T) { fn(t, f, p) })
		}
	}
}

func TestS3DeliveryAllFormatsAndPrefixes(t *testing.T) {
	ts, m := startWithMinIO(t)
	ctx := context.Background()
	n := 0
	forEachPermutation(t, func(t *testing.T, f compress.Format, p prefixKind) {
		n++
		name, bucket := fmt.Sprintf("perm-%d", n), fmt.Sprintf("perm-%d", n)
		m.CreateBucket(t, bucket)
		cfg := s3Config(bucket)
		cfg.CompressionFormat = types.CompressionFormat(f)
		cfg.Prefix, cfg.ErrorOutputPrefix, cfg.CustomTimeZone = p.prefix, p.errorOut, p.zone
		ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: cfg})
		var want []byte
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(name)}
		for i := 0; i < 300; i++ {
			rec := []byte(fmt.Sprintf(`{"i":%d,"pad":"%s"}`+"\n", i, strings.Repeat("x", i)))
			in.Records = append(in.Records, types.Record{Data: rec})
			want = append(want, rec...)
		}
		if _, err := ts.client.PutRecordBatch(ctx, in); err != nil {
			t.Fatal(err)
		}
		ts.flush(t)
		objs := m.Objects(t, bucket)
		if len(objs) != 1 {
			t.Fatalf("%d objects, want 1: %v", len(objs), sortedKeys(objs))
		}
		key := sortedKeys(objs)[0]
		re := regexp.MustCompile(fmt.Sprintf(p.keyRE, regexp.QuoteMeta(name), regexp.QuoteMeta(f.Extension())))
		if !re.MatchString(key) {
			t.Errorf("key %q does not match %s", key, re)
		}
		if p.zone != nil {
			loc, _ := time.LoadLocation(*p.zone)
			now := time.Now().In(loc)
			if !strings.Contains(key, now.Format("hour=15/")) && !strings.Contains(key, now.Add(-time.Minute).Format("hour=15/")) {
				t.Errorf("key %q is not in the current %s hour %s", key, *p.zone, now.Format("15"))
			}
		}
		zr, err := compress.NewReader(f, bytes.NewReader(objs[key]))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("decode %s object: %v", f, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("object holds %d bytes, want the %d bytes of the records concatenated", len(got), len(want))
		}
		meta := m.Head(t, bucket, key)
		if diff := cmp.Diff(testenv.ObjectMeta{ContentType: "application/octet-stream", ContentEncoding: f.ContentEncoding(), ContentLength: int64(len(objs[key]))}, meta); diff != "" {
			t.Errorf("object metadata (-want +got):\n%s", diff)
		}
	})
}

func TestS3FileExtensionReplacesTheDefault(t *testing.T) {
	ts, m := startWithMinIO(t)
	m.CreateBucket(t, "ext")
	cfg := s3Config("ext")
	cfg.CompressionFormat = types.CompressionFormatGzip
	cfg.FileExtension = aws.String(".json.gz")
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("ext"), ExtendedS3DestinationConfiguration: cfg})
	if _, err := ts.client.PutRecord(context.Background(), &firehose.PutRecordInput{DeliveryStreamName: aws.String("ext"), Record: &types.Record{Data: []byte("{}\n")}}); err != nil {
		t.Fatal(err)
	}
	ts.flush(t)
	keys := m.Keys(t, "ext")
	re := regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\d{2}/ext-1-\d{4}(-\d{2}){5}-[0-9a-f-]{36}\.json\.gz$`)
	if len(keys) != 1 || !re.MatchString(keys[0]) {
		t.Errorf("keys %v, want one ending in <uuid>.json.gz", keys)
	}
}

// deliveryStatus reads the server's delivery status of a stream's destination leg.
func deliveryStatus(t testing.TB, url, stream string) (freshness float64, lastCode string) {
	t.Helper()
	resp, err := http.Get(url + "/_hydrant/streams/" + stream + "/delivery")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Legs []struct {
			Freshness float64 `json:"dataFreshnessSeconds"`
			LastError *struct {
				Code string `json:"code"`
			} `json:"lastError"`
		} `json:"legs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Legs) == 0 {
		t.Fatalf("delivery status: %v %+v", err, st)
	}
	if st.Legs[0].LastError != nil {
		lastCode = st.Legs[0].LastError.Code
	}
	return st.Legs[0].Freshness, lastCode
}

func TestS3OutageLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over a minute: MinIO is down for 60 s")
	}
	const outage = 60 * time.Second
	ts, m := startWithMinIO(t)
	m.CreateBucket(t, "out")
	ctx := context.Background()
	cfg := s3Config("out")
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("out"), ExtendedS3DestinationConfiguration: cfg})

	// A steady load: 10 puts/s of 20 unique records, from before the outage to after it.
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
	)
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 0; n < 2000; n++ { // bounded: 200 s at most
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("out")}
			for i := 0; i < 20; i++ {
				in.Records = append(in.Records, types.Record{Data: []byte(fmt.Sprintf("rec-%d-%d\n", n, i))})
			}
			out, err := ts.client.PutRecordBatch(ctx, in)
			if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
				continue
			}
			mu.Lock()
			for _, r := range in.Records {
				acked[string(r.Data)] = true
			}
			mu.Unlock()
		}
	}()

	time.Sleep(3 * time.Second)
	m.Stop()
	downAt := time.Now()
	time.Sleep(outage / 2)
	fresh, code := deliveryStatus(t, ts.url, "out")
	if fresh < 20 || code == "" {
		t.Errorf("half-way through the outage: data freshness %.1f s, last error %q; want > 20 s and an error code", fresh, code)
	}
	t.Logf("half-way through the outage: data freshness %.1f s, last error code %s", fresh, code)
	time.Sleep(outage - time.Since(downAt))
	m.Restart(t)
	time.Sleep(3 * time.Second)
	close(stop)
	<-loadDone

	deadline := time.Now().Add(60 * time.Second)
	for {
		fresh, _ = deliveryStatus(t, ts.url, "out")
		if fresh < 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fresh >= 5 {
		t.Errorf("data freshness %.1f s after MinIO came back; want it to recover", fresh)
	}
	ts.flush(t)

	seen := map[string]int{}
	for _, body := range m.Objects(t, "out") {
		for _, line := range strings.SplitAfter(string(body), "\n") {
			if line != "" {
				seen[line]++
			}
		}
	}
	var missing, dups, unacked int
	for r := range acked {
		if seen[r] == 0 {
			missing++
		}
	}
	for r, n := range seen {
		dups += n - 1
		if !acked[r] {
			unacked++
		}
	}
	t.Logf("acknowledged %d records; delivered %d distinct, %d duplicates, %d delivered without acknowledgement", len(acked), len(seen), dups, unacked)
	if missing != 0 || dups != 0 {
		t.Errorf("%d acknowledged records missing, %d duplicates", missing, dups)
	}
	if len(acked) < 500 {
		t.Errorf("only %d records acknowledged; the load did not run through the outage", len(acked))
	}
}
