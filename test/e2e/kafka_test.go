package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaSourcePipeline reads a Kafka topic into an MSKAsSource delivery stream. No Kafka
// broker installs on these machines: the cluster is franz-go's kfake, in this test's process,
// and Hydrant (its own process) reaches it over TCP on loopback as it would a broker. Records
// produced before the stream's creation are not read (ReadFromTimestamp's default); during the
// load a partition is added and Hydrant is killed with SIGKILL and restarted several times;
// every later record is delivered exactly once.
func TestKafkaSourcePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary")
	}
	const topic, clusterARN = "clicks", "arn:aws:kafka:us-east-1:000000000000:cluster/local/0f1e2d3c"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	produce := func(ids []string) {
		t.Helper()
		recs := make([]*kgo.Record, len(ids))
		for i, id := range ids {
			recs[i] = &kgo.Record{Key: []byte(id), Value: []byte(`{"id":"` + id + `"}` + "\n"),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("dropped")}}}
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := prod.ProduceSync(pctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s-%d", prefix, i)
		}
		return out
	}
	produce(ids("before", 30))
	time.Sleep(50 * time.Millisecond)

	cfg := map[string]any{"kafka": map[string]any{clusterARN: map[string]any{"bootstrapBrokers": cluster.ListenAddrs()}}}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(t.TempDir(), "hydrant.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	args := []string{"--config", cfgPath}
	s := startServerArgs(t, dataDir, args)
	c := newFirehose(s.URL)
	createStream(t, c, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("from-kafka"),
		DeliveryStreamType: types.DeliveryStreamTypeMSKAsSource,
		MSKSourceConfiguration: &types.MSKSourceConfiguration{
			MSKClusterARN: aws.String(clusterARN), TopicName: aws.String(topic),
			AuthenticationConfiguration: &types.AuthenticationConfiguration{
				RoleARN: aws.String("arn:aws:iam::000000000000:role/r"), Connectivity: types.ConnectivityPublic,
			},
		},
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			RoleARN:        aws.String("arn:aws:iam::000000000000:role/r"),
			BucketARN:      aws.String("arn:aws:s3:::lake"),
			BufferingHints: &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(60)},
		},
	})
	d, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("from-kafka")})
	if err != nil {
		t.Fatal(err)
	}
	if msk := d.DeliveryStreamDescription.Source.MSKSourceDescription; msk == nil || aws.ToString(msk.TopicName) != topic || msk.DeliveryStartTimestamp == nil {
		t.Errorf("describe source = %+v", d.DeliveryStreamDescription.Source.MSKSourceDescription)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	want := map[string]bool{}
	const rounds = 6
	for r := range rounds {
		batch := ids(fmt.Sprintf("r%d", r), 300)
		produce(batch)
		for _, id := range batch {
			want[id] = true
		}
		if r == rounds/2 {
			adm := kadm.NewClient(prod)
			if _, err := adm.CreatePartitions(ctx, 2, topic); err != nil {
				t.Fatalf("add partitions: %v", err)
			}
		}
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		if r < rounds-1 {
			s.Kill()
			s = startServerArgs(t, dataDir, args)
		}
	}

	deadline := time.Now().Add(90 * time.Second)
	var counts map[string]int
	for {
		s.Flush("from-kafka")
		objs := map[string][]byte{}
		for _, o := range s.Objects("lake") {
			objs[o.Key] = readFile(t, o.Path)
		}
		counts = kinesisLines(t, objs)
		if len(counts) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	missing, dup, extra := tally(counts, want, true, nil)
	if len(missing)+len(dup)+len(extra) > 0 {
		t.Errorf("objects hold %d distinct records of %d: %d missing (%.5q), %d duplicated (%.5q), %d produced before the start (%.5q)\n%s",
			len(counts), len(want), len(missing), missing, len(dup), dup, len(extra), extra, s.logTail())
	}
	// Offsets are committed to the group hydrant-<stream> for lag tools.
	adm := kadm.NewClient(prod)
	offs, err := adm.FetchOffsets(ctx, "hydrant-from-kafka")
	if err != nil {
		t.Fatal(err)
	}
	committed := int64(0)
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != int64(len(want)+30) {
		t.Errorf("committed offsets sum to %d, want %d (every record produced, the 30 before the start included)", committed, len(want)+30)
	}
}
