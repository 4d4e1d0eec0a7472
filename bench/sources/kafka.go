package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceBatch is how many records one ProduceSync call carries.
const produceBatch = 1000

// fillKafka produces up to n records of recordBytes into partition 0 of topic, in
// ProduceSync calls of 1,000, for at most d; it stops at the first error.
func fillKafka(ctx context.Context, brokers []string, topic string, n, recordBytes int, d time.Duration) (fillResult, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return fillResult{}, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var r fillResult
	for r.records < n && ctx.Err() == nil {
		cnt := min(produceBatch, n-r.records)
		recs := make([]*kgo.Record, cnt)
		for i := range recs {
			recs[i] = &kgo.Record{Value: record(r.records+i, recordBytes), Partition: 0}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			if ctx.Err() != nil {
				break
			}
			return r, fmt.Errorf("produce after %d records: %w", r.records, err)
		}
		r.records += cnt
	}
	r.elapsed = time.Since(start)
	r.bytes = int64(r.records) * int64(recordBytes)
	return r, nil
}

// bareKafkaRead reads partition 0 of topic from its start with a franz-go consumer of default
// fetch settings until it has want records or d has passed.
func bareKafkaRead(ctx context.Context, brokers []string, topic string, want int, d time.Duration) (readResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return readResult{}, err
	}
	defer cl.Close()
	var r readResult
	for r.records < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if err := fs.Err0(); err != nil {
			return r, fmt.Errorf("fetch after %d records: %w", r.records, err)
		}
		n := 0
		fs.EachRecord(func(k *kgo.Record) {
			n++
			r.bytes += int64(len(k.Value))
		})
		if n > 0 {
			r.records += n
			r.calls++
			r.sizes = append(r.sizes, n)
		}
	}
	r.elapsed = time.Since(start)
	if r.records < want {
		return r, fmt.Errorf("read %d of %d records in %v", r.records, want, d)
	}
	return r, nil
}
