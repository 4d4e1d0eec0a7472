package testenv

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/go-cmp/cmp"
)

func TestKinesisServers(t *testing.T) {
	for _, s := range KinesisServers() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			k := s.Start(t)
			const stream = "orders"
			arn := k.CreateStream(t, stream, 2)
			if arn == "" {
				t.Error("CreateStream returned no ARN")
			}
			parents := shardIDs(k.OpenShards(t, stream))
			if len(parents) != 2 {
				t.Fatalf("open shards after CreateStream = %v, want 2", parents)
			}

			before := payloads("before", 20)
			k.PutRecords(t, stream, before, nil)
			if diff := cmp.Diff(sorted(before), sorted(readStream(t, k, stream, parents, trimHorizon))); diff != "" {
				t.Errorf("TRIM_HORIZON records (-want +got):\n%s", diff)
			}

			// All three keep arrival times in milliseconds as the SDK sees them, and the
			// SDK sends Timestamp in milliseconds: keep the puts clear of the boundary.
			// Partition keys "0".."19" put "after" records into both shards, which
			// kinesalite needs: its GetShardIterator AT_TIMESTAMP never answers for a
			// shard without a record at or after the timestamp.
			time.Sleep(20 * time.Millisecond)
			ts := time.Now()
			time.Sleep(20 * time.Millisecond)
			after := payloads("after", 20)
			k.PutRecords(t, stream, after, nil)
			if diff := cmp.Diff(sorted(after), sorted(readStream(t, k, stream, parents, atTimestamp(ts)))); diff != "" {
				t.Errorf("AT_TIMESTAMP records (-want +got):\n%s", diff)
			}

			k.Reshard(t, stream, 4)
			// All three split each parent in two: the parents are closed and each child
			// names its parent as ParentShardId, with no AdjacentParentShardId (that is
			// set by merges only).
			var got []string
			var children []string
			for _, s := range k.Shards(t, stream) {
				id := aws.ToString(s.ShardId)
				closed := s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
				switch {
				case slices.Contains(parents, id):
					got = append(got, fmt.Sprintf("%s closed=%v", id, closed))
				default:
					children = append(children, id)
					got = append(got, fmt.Sprintf("child of %s adjacent=%q closed=%v",
						aws.ToString(s.ParentShardId), aws.ToString(s.AdjacentParentShardId), closed))
				}
			}
			slices.Sort(got)
			want := []string{
				parents[0] + " closed=true",
				parents[1] + " closed=true",
				"child of " + parents[0] + ` adjacent="" closed=false`,
				"child of " + parents[0] + ` adjacent="" closed=false`,
				"child of " + parents[1] + ` adjacent="" closed=false`,
				"child of " + parents[1] + ` adjacent="" closed=false`,
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("shards after Reshard 2 → 4 (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(children, shardIDs(k.OpenShards(t, stream))); diff != "" {
				t.Errorf("OpenShards after Reshard (-want +got):\n%s", diff)
			}

			// moto routes a record to the first shard whose hash key range holds its key,
			// closed or not, so after a reshard its records keep landing in the closed
			// parents and the children stay empty. The others route to the children.
			resharded := payloads("resharded", 20)
			k.PutRecords(t, stream, resharded, nil)
			from := children
			if k.Kind == KindMoto {
				from = parents
			}
			if diff := cmp.Diff(sorted(resharded), withPrefix("resharded-", readStream(t, k, stream, from, trimHorizon))); diff != "" {
				t.Errorf("records put after Reshard, read from %v (-want +got):\n%s", from, diff)
			}
		})
	}
}

func TestKinesisPutRecordsChunks(t *testing.T) {
	k := StartKinesalite(t) // the quickest to start
	k.CreateStream(t, "big", 1)
	recs := payloads("r", 1201) // three requests: 500, 500, 201
	k.PutRecords(t, "big", recs, nil)
	shards := shardIDs(k.OpenShards(t, "big"))
	if diff := cmp.Diff(sorted(recs), sorted(readStream(t, k, "big", shards, trimHorizon))); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestMidHashKey(t *testing.T) {
	tests := []struct{ start, end, want string }{
		{"0", "340282366920938463463374607431768211455", "170141183460469231731687303715884105728"},
		{"0", "1", "1"},
		{"10", "13", "12"},
	}
	for _, tt := range tests {
		got, err := midHashKey(&types.HashKeyRange{StartingHashKey: aws.String(tt.start), EndingHashKey: aws.String(tt.end)})
		if err != nil {
			t.Fatalf("midHashKey(%s..%s): %v", tt.start, tt.end, err)
		}
		if got != tt.want {
			t.Errorf("midHashKey(%s..%s) = %s, want %s", tt.start, tt.end, got, tt.want)
		}
	}
	if _, err := midHashKey(&types.HashKeyRange{StartingHashKey: aws.String("5"), EndingHashKey: aws.String("5")}); err == nil {
		t.Error("midHashKey(5..5) succeeded, want an error")
	}
}

func payloads(prefix string, n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, "%s-%02d", prefix, i)
	}
	return recs
}

func sorted(recs [][]byte) []string {
	s := make([]string, len(recs))
	for i, r := range recs {
		s[i] = string(r)
	}
	slices.Sort(s)
	return s
}

// withPrefix returns the records that start with prefix, sorted.
func withPrefix(prefix string, recs [][]byte) []string {
	var s []string
	for _, r := range sorted(recs) {
		if strings.HasPrefix(r, prefix) {
			s = append(s, r)
		}
	}
	return s
}

func shardIDs(shards []types.Shard) []string {
	ids := make([]string, len(shards))
	for i, s := range shards {
		ids[i] = aws.ToString(s.ShardId)
	}
	return ids
}

func trimHorizon(in *kinesis.GetShardIteratorInput) {
	in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
}

func atTimestamp(ts time.Time) func(*kinesis.GetShardIteratorInput) {
	return func(in *kinesis.GetShardIteratorInput) {
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(ts)
	}
}

// readStream returns the data of every record of the shards, from the iterator that
// position sets up to the end of each shard's data.
func readStream(t *testing.T, k *Kinesis, stream string, shards []string, position func(*kinesis.GetShardIteratorInput)) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var data [][]byte
	for _, id := range shards {
		in := &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(id)}
		position(in)
		it, err := k.Client.GetShardIterator(ctx, in)
		if err != nil {
			t.Fatalf("get %s iterator of %s: %v", in.ShardIteratorType, id, err)
		}
		iter := it.ShardIterator
		for range 100 {
			if iter == nil {
				break
			}
			out, err := k.Client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatalf("get records of %s: %v", id, err)
			}
			for _, r := range out.Records {
				data = append(data, r.Data)
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return data
}
