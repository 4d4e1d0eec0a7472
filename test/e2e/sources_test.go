package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// TestKinesisSourcePipeline is the seeds' pipeline with a real Kinesis API: a producer writes
// to a 2-shard Kinesis stream (plain records and KPL aggregates), Hydrant reads it into a
// KinesisStreamAsSource delivery stream and delivers to MinIO under yyyy/MM/dd/HH keys. During
// the load the stream is resharded 2 → 4 and Hydrant is killed with SIGKILL and restarted
// several times; every record put after the delivery stream's creation is in MinIO exactly once,
// and none put before it.
func TestKinesisSourcePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary")
	}
	for _, srv := range testenv.KinesisServers() {
		t.Run(srv.Name, func(t *testing.T) {
			runKinesisPipeline(t, srv)
		})
	}
}

func runKinesisPipeline(t *testing.T, srv testenv.KinesisServer) {
	k := srv.Start(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "lake")
	arn := k.CreateStream(t, "clicks", 2)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))

	// Records put before the delivery stream exists are not read (LATEST as of its creation).
	before := make([][]byte, 20)
	for i := range before {
		before[i] = fmt.Appendf(nil, `{"id":"before-%d"}`+"\n", i)
	}
	k.PutRecords(t, "clicks", before, nil)
	time.Sleep(50 * time.Millisecond)

	env := m.Env()
	var args []string
	if srv.Name == testenv.KindKinesalite {
		// The stream's settings in the config file, by ARN, rather than the environment.
		b, _ := json.Marshal(map[string]any{"kinesis": map[string]any{arn: map[string]string{"endpoint": k.Endpoint, "region": "us-east-1"}}})
		cfgPath := filepath.Join(t.TempDir(), "hydrant.json")
		if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = []string{"--config", cfgPath}
	} else {
		env = append(env, "AWS_ENDPOINT_URL_KINESIS="+k.Endpoint)
	}
	dataDir := t.TempDir()
	s := startServerArgs(t, dataDir, args, env...)
	c := newFirehose(s.URL)
	createStream(t, c, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("from-kinesis"),
		DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource,
		KinesisStreamSourceConfiguration: &types.KinesisStreamSourceConfiguration{
			KinesisStreamARN: aws.String(arn), RoleARN: aws.String("arn:aws:iam::000000000000:role/r"),
		},
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			RoleARN:        aws.String("arn:aws:iam::000000000000:role/r"),
			BucketARN:      aws.String("arn:aws:s3:::lake"),
			BufferingHints: &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(60)},
		},
	})
	ctx := context.Background()

	// Puts are refused, as AWS refuses them for this stream type.
	_, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("from-kinesis"), Record: &types.Record{Data: []byte("x\n")}})
	var invalid *types.InvalidArgumentException
	if !errors.As(err, &invalid) {
		t.Errorf("PutRecord to a KinesisStreamAsSource stream = %v, want InvalidArgumentException", err)
	}
	// Describe names the source and where reading started.
	d, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("from-kinesis")})
	if err != nil {
		t.Fatal(err)
	}
	ks := d.DeliveryStreamDescription.Source.KinesisStreamSourceDescription
	if ks == nil || aws.ToString(ks.KinesisStreamARN) != arn || ks.DeliveryStartTimestamp == nil {
		t.Fatalf("describe source = %+v", d.DeliveryStreamDescription.Source)
	}

	// The load: rounds of plain records and KPL aggregates; a reshard in the middle; kill -9
	// after most rounds.
	want := map[string]bool{}
	const rounds = 6
	for r := range rounds {
		plain := make([][]byte, 150)
		keys := make([]string, len(plain))
		for i := range plain {
			id := fmt.Sprintf("r%d-p%d", r, i)
			plain[i] = []byte(`{"id":"` + id + `"}` + "\n")
			keys[i] = id
			want[id] = true
		}
		k.PutRecords(t, "clicks", plain, keys)
		var aggs [][]byte
		var aggKeys []string
		for a := range 2 {
			users := make([][]byte, 40)
			for i := range users {
				id := fmt.Sprintf("r%d-a%d-%d", r, a, i)
				users[i] = []byte(`{"id":"` + id + `"}` + "\n")
				want[id] = true
			}
			pk := fmt.Sprintf("agg-%d-%d", r, a)
			aggs, aggKeys = append(aggs, testenv.AggregateKPL(pk, users)), append(aggKeys, pk)
		}
		k.PutRecords(t, "clicks", aggs, aggKeys)
		if r == rounds/2 {
			k.Reshard(t, "clicks", 4)
		}
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		if r < rounds-1 {
			s.Kill()
			s = startServerArgs(t, dataDir, args, env...)
		}
	}

	// Wait until every record is in MinIO, flushing as the reader catches up.
	deadline := time.Now().Add(90 * time.Second)
	var counts map[string]int
	for {
		s.Flush("from-kinesis")
		counts = kinesisLines(t, m.Objects(t, "lake"))
		if len(counts) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	missing, dup, extra := tally(counts, want, true, nil)
	if len(missing)+len(dup)+len(extra) > 0 {
		t.Errorf("MinIO holds %d distinct records of %d: %d missing (%.5q), %d duplicated (%.5q), %d not put after the start (%.5q)\n%s",
			len(counts), len(want), len(missing), missing, len(dup), dup, len(extra), extra, s.logTail())
	}
	for key := range m.Objects(t, "lake") {
		if !defaultKey(key) {
			t.Errorf("object key %q is not yyyy/MM/dd/HH/from-kinesis-...", key)
		}
	}

	// The reader's status and metrics.
	out, err := exec.Command(binary, "streams", "describe", "--endpoint-url", s.URL, "--delivery-stream-name", "from-kinesis").CombinedOutput()
	if err != nil {
		t.Fatalf("hydrant streams describe: %v\n%s", err, out)
	}
	var desc struct {
		HydrantSourceStatus struct {
			Kind, Source, State string
			Parts               []struct{ ID string }
		}
	}
	if err := json.Unmarshal(out, &desc); err != nil {
		t.Fatalf("describe output: %v\n%s", err, out)
	}
	if st := desc.HydrantSourceStatus; st.Kind != "Kinesis" || st.Source != arn || st.State != "reading" || len(st.Parts) < 2 {
		t.Errorf("HydrantSourceStatus = %+v", st)
	}
	for _, metric := range []string{"DataReadFromKinesisStream.Records", "DataReadFromKinesisStream.Bytes"} {
		if n := cloudWatchSum(t, s.URL, "from-kinesis", metric); n <= 0 {
			t.Errorf("%s = %v after the last start, want > 0", metric, n)
		}
	}

	// Deleting the delivery stream stops its reader.
	if _, err := newFirehose(s.URL).DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("from-kinesis")}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		resp, err := s.client.Get(s.URL + "/_hydrant/streams/from-kinesis/source")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reader still runs 20 s after DeleteDeliveryStream (status %d)", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kinesisLines counts the records ({"id":...} lines) in the objects.
func kinesisLines(t *testing.T, objs map[string][]byte) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for key, b := range objs {
		for line := range bytes.Lines(b) {
			var rec struct{ ID string }
			if err := json.Unmarshal(line, &rec); err != nil || rec.ID == "" {
				t.Errorf("object %s: line %q is not a record", key, line)
				continue
			}
			counts[rec.ID]++
		}
	}
	return counts
}

// defaultKey reports a default S3 key: yyyy/MM/dd/HH/<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<id>.
func defaultKey(key string) bool {
	parts := strings.Split(key, "/")
	return len(parts) == 5 && len(parts[0]) == 4 && len(parts[1]) == 2 && len(parts[2]) == 2 && len(parts[3]) == 2 &&
		strings.HasPrefix(parts[4], "from-kinesis-")
}

// cloudWatchSum reads the sum of a stream's metric over the last 10 minutes with the AWS CLI.
func cloudWatchSum(t *testing.T, url, stream, metric string) float64 {
	t.Helper()
	awsCLI := requireTool(t, "aws")
	now := time.Now().UTC()
	cli := exec.Command(awsCLI, "--endpoint-url", url, "cloudwatch", "get-metric-statistics",
		"--namespace", "AWS/Firehose", "--metric-name", metric,
		"--dimensions", "Name=DeliveryStreamName,Value="+stream,
		"--start-time", now.Add(-10*time.Minute).Format(time.RFC3339), "--end-time", now.Add(time.Minute).Format(time.RFC3339),
		"--period", "3600", "--statistics", "Sum", "--output", "json")
	cli.Env = append(cli.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_DEFAULT_REGION=us-east-1")
	out, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("aws cloudwatch get-metric-statistics %s: %v\n%s", metric, err, out)
	}
	var resp struct{ Datapoints []struct{ Sum float64 } }
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("CLI output %s: %v", out, err)
	}
	total := 0.0
	for _, d := range resp.Datapoints {
		total += d.Sum
	}
	return total
}

// tally compares the records found (id → copies) with the ones that must be there once: it
// returns the wanted ids missing, the ids found more than once (unless allowDup says a copy may
// be repeated) and, when onlyWanted, the ids found that were not wanted.
func tally(counts map[string]int, want map[string]bool, onlyWanted bool, allowDup func(string) bool) (missing, dup, extra []string) {
	for id := range want {
		if counts[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range counts {
		if n > 1 && (allowDup == nil || !allowDup(id)) {
			dup = append(dup, id)
		}
		if onlyWanted && !want[id] {
			extra = append(extra, id)
		}
	}
	return missing, dup, extra
}
