package producer_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/pkg/producer"
)

// flakyClient stands in for *firehose.Client: every PutRecordBatch call accepts only its
// first two records, as a throttled stream would.
type flakyClient struct{}

func (c *flakyClient) PutRecord(context.Context, *firehose.PutRecordInput, ...func(*firehose.Options)) (*firehose.PutRecordOutput, error) {
	return &firehose.PutRecordOutput{RecordId: aws.String("id-1")}, nil
}

func (c *flakyClient) PutRecordBatch(_ context.Context, in *firehose.PutRecordBatchInput, _ ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error) {
	out := &firehose.PutRecordBatchOutput{RequestResponses: make([]types.PutRecordBatchResponseEntry, len(in.Records))}
	for i := range in.Records {
		if i >= 2 {
			out.RequestResponses[i] = types.PutRecordBatchResponseEntry{ErrorCode: aws.String("ServiceUnavailableException"), ErrorMessage: aws.String("Slow down.")}
			continue
		}
		out.RequestResponses[i] = types.PutRecordBatchResponseEntry{RecordId: aws.String(fmt.Sprint("id-", i))}
	}
	return out, nil
}

func ExampleChunks() {
	records := make([][]byte, 1200)
	for i := range records {
		records[i] = []byte("a record")
	}
	records[7] = make([]byte, producer.MaxRecordBytes+1)
	chunks, oversized := producer.Chunks(records)
	for _, c := range chunks {
		fmt.Println(len(c), "records from index", c[0])
	}
	fmt.Println("too large:", oversized)
	// Output:
	// 500 records from index 0
	// 500 records from index 501
	// 199 records from index 1001
	// too large: [7]
}

func ExamplePutRecordBatch() {
	// With a real stream: client := firehose.NewFromConfig(awsCfg).
	client := &flakyClient{}
	records := [][]byte{[]byte("a\n"), []byte("b\n"), []byte("c\n"), []byte("d\n"), []byte("e\n"), []byte("f\n"), []byte("g\n")}
	res, err := producer.PutRecordBatch(context.Background(), client, "my-stream", records,
		producer.Config{MaxTrials: 3, BaseDelay: time.Millisecond})
	if err != nil {
		panic(err) // only an ended context or invalid arguments
	}
	fmt.Println("sent", res.Sent, "retried", res.Retried)
	for _, f := range res.Failed {
		fmt.Printf("record %d %q: %s after %d attempts\n", f.Index, f.Data, f.ErrorCode, f.Attempts)
	}
	// Output:
	// sent 6 retried 8
	// record 6 "g\n": ServiceUnavailableException after 3 attempts
}

func ExampleProducer() {
	client := &flakyClient{}
	var mu sync.Mutex
	failed := 0
	p := producer.NewProducer(client, "my-stream", producer.ProducerConfig{
		Config:       producer.Config{MaxTrials: 10, BaseDelay: time.Millisecond},
		BatchRecords: 4,
		Linger:       time.Hour, // Close sends the last partial batch
		OnFailure:    func(producer.FailedRecord) { mu.Lock(); failed++; mu.Unlock() },
	})
	ctx := context.Background()
	for i := range 10 {
		if err := p.Add(ctx, fmt.Appendf(nil, "record %d\n", i)); err != nil {
			panic(err)
		}
	}
	if err := p.Close(ctx); err != nil { // flushes
		panic(err)
	}
	fmt.Printf("%+v, %d failures\n", p.Stats(), failed)
	// Output:
	// {Sent:10 Retried:4 Failed:0}, 0 failures
}
