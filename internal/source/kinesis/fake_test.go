package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// fakeKinesis is an in-memory Kinesis of one stream for fast, deterministic tests of the reader's
// own logic; the tests against real servers are in reader_test.go.
type fakeKinesis struct {
	mu     sync.Mutex
	shards []*fakeShard
	// throttle makes the next n calls of an operation fail with
	// ProvisionedThroughputExceededException (or LimitExceededException for ListShards).
	throttle map[string]int
	// expire makes the next n GetRecords fail with ExpiredIteratorException.
	expire int
	// iterTypes records the ShardIteratorType of each GetShardIterator, by shard.
	iterTypes map[string][]types.ShardIteratorType
	calls     map[string]int
}

type fakeShard struct {
	id, parent string
	records    []types.Record
	closed     bool
}

func newFakeKinesis() *fakeKinesis {
	return &fakeKinesis{throttle: map[string]int{}, iterTypes: map[string][]types.ShardIteratorType{}, calls: map[string]int{}}
}

func (f *fakeKinesis) addShard(id, parent string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shards = append(f.shards, &fakeShard{id: id, parent: parent})
}

func (f *fakeKinesis) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

// put appends records to a shard, arriving at at.
func (f *fakeKinesis) put(id string, at time.Time, data ...[]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(id)
	for _, d := range data {
		seq := fmt.Sprintf("%s-%08d", id, len(s.records)+1)
		s.records = append(s.records, types.Record{Data: d, SequenceNumber: aws.String(seq), ApproximateArrivalTimestamp: aws.Time(at)})
	}
}

func (f *fakeKinesis) close(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shard(id).closed = true
}

func (f *fakeKinesis) throttled(op string) bool {
	f.calls[op]++
	if f.throttle[op] > 0 {
		f.throttle[op]--
		return true
	}
	return false
}

func apiError(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code}
}

func (f *fakeKinesis) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttled("ListShards") {
		return nil, apiError("LimitExceededException")
	}
	out := &kinesis.ListShardsOutput{}
	for _, s := range f.shards {
		sh := types.Shard{ShardId: aws.String(s.id)}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		out.Shards = append(out.Shards, sh)
	}
	return out, nil
}

// Iterators are "shard/index": the index of the next record to return.
func (f *fakeKinesis) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttled("GetShardIterator") {
		return nil, apiError("ProvisionedThroughputExceededException")
	}
	id := aws.ToString(in.ShardId)
	s := f.shard(id)
	if s == nil {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no shard " + id)}
	}
	f.iterTypes[id] = append(f.iterTypes[id], in.ShardIteratorType)
	next := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeAtTimestamp:
		for next < len(s.records) && s.records[next].ApproximateArrivalTimestamp.Before(*in.Timestamp) {
			next++
		}
	case types.ShardIteratorTypeAfterSequenceNumber:
		for next < len(s.records) && *s.records[next].SequenceNumber <= *in.StartingSequenceNumber {
			next++
		}
	case types.ShardIteratorTypeTrimHorizon:
	default:
		return nil, apiError("InvalidArgumentException")
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(id + "/" + strconv.Itoa(next))}, nil
}

func (f *fakeKinesis) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttled("GetRecords") {
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	}
	if f.expire > 0 {
		f.expire--
		return nil, &types.ExpiredIteratorException{Message: aws.String("expired")}
	}
	id, idx, _ := strings.Cut(aws.ToString(in.ShardIterator), "/")
	next, err := strconv.Atoi(idx)
	if err != nil {
		return nil, errors.New("bad iterator")
	}
	s := f.shard(id)
	end := min(len(s.records), next+int(aws.ToInt32(in.Limit)))
	out := &kinesis.GetRecordsOutput{Records: append([]types.Record(nil), s.records[next:end]...), MillisBehindLatest: aws.Int64(int64(len(s.records)-end) * 1000)}
	if !(s.closed && end == len(s.records)) {
		out.NextShardIterator = aws.String(id + "/" + strconv.Itoa(end))
	}
	return out, nil
}
