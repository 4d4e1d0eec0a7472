package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// t0 is the start of the fake source's data: 2024-01-01T00:00:00Z.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// sample is one stored minute of a fake metric.
type sample struct {
	at                      time.Time
	count, sum, lo, hi, p99 float64
	unit                    string
}

// fakeMetric is one metric of fakeSource with its minute samples.
type fakeMetric struct {
	Metric
	samples []sample
}

// fakeSource is a Source over fixed minute samples. It aggregates like the real store: one
// datapoint per Period bucket aligned to Query.Start. Percentiles report the largest p99.
type fakeSource struct {
	mu      sync.Mutex
	metrics []fakeMetric
	queries []Query
	err     error
}

var _ Source = (*fakeSource)(nil)

func stream(name string) []Dimension { return []Dimension{{"DeliveryStreamName", name}} }

// newFakeSource returns the data every test uses: IncomingRecords for s1 at 00:00, 00:01 and
// 00:05 (sums 5, 7, 11), IncomingBytes for s1 and s2, and a metric without dimensions.
func newFakeSource() *fakeSource {
	return &fakeSource{metrics: []fakeMetric{
		{Metric{"AWS/Firehose", "IncomingRecords", stream("s1")}, []sample{
			{t0, 1, 5, 5, 5, 5, "Count"},
			{t0.Add(time.Minute), 2, 7, 3, 4, 4, "Count"},
			{t0.Add(5 * time.Minute), 4, 11, 1, 5, 5, "Count"},
		}},
		{Metric{"AWS/Firehose", "IncomingBytes", stream("s1")}, []sample{
			{t0, 1, 1024, 1024, 1024, 1024, "Bytes"},
		}},
		{Metric{"AWS/Firehose", "IncomingBytes", stream("s2")}, []sample{
			{t0.Add(2 * time.Minute), 2, 300, 100, 200, 200, "Bytes"},
		}},
		{Metric{"AWS/Usage", "ResourceCount", []Dimension{{"Class", "None"}, {"Resource", "DeliveryStreams"}, {"Service", "Firehose"}, {"Type", "Resource"}}}, []sample{
			{t0, 1, 2, 2, 2, 2, "None"},
		}},
	}}
}

func (f *fakeSource) Statistics(_ context.Context, q Query) ([]Datapoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, f.err
	}
	var out []Datapoint
	for _, m := range f.metrics {
		if m.Namespace != q.Namespace || m.MetricName != q.MetricName || !maps.Equal(dimensionMap(m.Dimensions), q.Dimensions) {
			continue
		}
		buckets := map[time.Time]*Datapoint{}
		for _, s := range m.samples {
			if s.at.Before(q.Start) || !s.at.Before(q.End) {
				continue
			}
			at := q.Start.Add(s.at.Sub(q.Start) / q.Period * q.Period)
			dp, ok := buckets[at]
			if !ok {
				dp = &Datapoint{Timestamp: at, Minimum: s.lo, Maximum: s.hi, Unit: s.unit, Percentiles: map[string]float64{}}
				buckets[at] = dp
			}
			dp.SampleCount += s.count
			dp.Sum += s.sum
			dp.Minimum, dp.Maximum = min(dp.Minimum, s.lo), max(dp.Maximum, s.hi)
			for _, p := range q.Percentiles {
				if p == "p99" {
					dp.Percentiles[p] = max(dp.Percentiles[p], s.p99)
				}
			}
		}
		for _, at := range slices.SortedFunc(maps.Keys(buckets), func(a, b time.Time) int { return b.Compare(a) }) {
			out = append(out, *buckets[at]) // newest first: the handler must order them itself
		}
	}
	return out, nil
}

func (f *fakeSource) List(_ context.Context, namespace, metricName string, dims []Dimension) ([]Metric, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []Metric
	for _, m := range f.metrics {
		if (namespace == "" || namespace == m.Namespace) && (metricName == "" || metricName == m.MetricName) && hasDimensions(m.Metric, dims) {
			out = append(out, m.Metric)
		}
	}
	return out, nil
}

var errFakeSource = errors.New("fake source failure")

// newTestHandler returns a Handler over src with deterministic request IDs.
func newTestHandler(tb testing.TB, src Source) *Handler {
	tb.Helper()
	h := NewHandler(src, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var (
		mu sync.Mutex
		n  int
	)
	h.newID = func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}
	return h
}
