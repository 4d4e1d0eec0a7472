package metrics

import (
	"cmp"
	"slices"
	"time"
)

// Datapoint is the aggregate of one metric over one period, as GetMetricStatistics returns it.
type Datapoint struct {
	// Timestamp is the start of the period, in UTC.
	Timestamp time.Time
	// SampleCount is the number of samples in the period.
	SampleCount float64
	// Sum is the sum of the samples.
	Sum float64
	// Minimum is the smallest sample.
	Minimum float64
	// Maximum is the largest sample.
	Maximum float64
	// Unit is the unit the metric was recorded with.
	Unit Unit
	// Percentiles maps each requested percentile name ("p99") to its value; nil when none was
	// requested.
	Percentiles map[string]float64
}

// Query selects one metric over [Start, End) in periods, as GetMetricStatistics does.
type Query struct {
	// Namespace must be AWS/Firehose to match anything.
	Namespace string
	// MetricName is the metric, e.g. "IncomingRecords".
	MetricName string
	// Dimensions must be exactly {DeliveryStreamName: stream} to match anything.
	Dimensions map[string]string
	// Start is the inclusive start, rounded down to the minute.
	Start time.Time
	// End is the exclusive end.
	End time.Time
	// Period is the length of a datapoint, a positive multiple of 60 s.
	Period time.Duration
	// Percentiles names the percentiles to compute: "p50", "p99.9".
	Percentiles []string
}

// MetricID names one metric, as ListMetrics returns it.
type MetricID struct {
	// Namespace is AWS/Firehose.
	Namespace string
	// MetricName is the metric name.
	MetricName string
	// Dimensions are the metric's dimensions: DeliveryStreamName.
	Dimensions []Dimension
}

// Dimension is a CloudWatch dimension.
type Dimension struct {
	// Name is the dimension name.
	Name string
	// Value is the dimension value.
	Value string
}

// Statistics aggregates the samples of one metric over [q.Start, q.End) in periods of q.Period
// that start at q.Start rounded down to the minute, and returns the periods that have samples,
// ascending. Percentiles are omitted from a period holding a negative sample, as CloudWatch does. A query that
// names no stream metric (another namespace, other dimensions, an unknown metric) returns no
// datapoints and no error. The error wraps ErrInvalidPeriod or ErrInvalidPercentile.
func (s *Store) Statistics(q Query) ([]Datapoint, error) {
	p, err := s.Partial(q)
	if err != nil {
		return nil, err
	}
	return Merge(q, p)
}

// floorDiv returns ⌊a / b⌋ for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// Series returns the per-minute datapoints of one stream metric from since (rounded down to the
// minute) on, ascending, without percentiles.
func (s *Store) Series(stream, name string, since time.Time) []Datapoint {
	dps, _ := s.Statistics(SeriesQuery(stream, name, since)) // a one-minute period and no percentiles: never an error
	return dps
}

// SeriesQuery is the query whose datapoints are the minutes of one stream metric from since on,
// as Series returns them.
func SeriesQuery(stream, name string, since time.Time) Query {
	return Query{
		Namespace: Namespace, MetricName: name, Dimensions: map[string]string{DimensionStream: stream},
		Start: since, Period: time.Minute,
		// Later than any sample, and still a time JSON can carry to another node.
		End: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
	}
}

// List returns every metric with data in the retention window that matches the filters, sorted
// by metric name and stream: namespace "" or AWS/Firehose, metricName "" or equal, and every
// filter dimension present on the metric (a filter value "" matches any value).
func (s *Store) List(namespace, metricName string, dims []Dimension) []MetricID {
	if namespace != "" && namespace != Namespace {
		return nil
	}
	oldest := s.oldestKept()
	var out []MetricID
	for _, ser := range s.all() {
		if metricName != "" && ser.key.name != metricName || !matchDims(ser.key.stream, dims) {
			continue
		}
		ser.drain()
		ser.mu.Lock()
		live := len(ser.minutes) > 0 && ser.minutes[len(ser.minutes)-1].t >= oldest
		ser.mu.Unlock()
		if live {
			out = append(out, MetricID{
				Namespace:  Namespace,
				MetricName: ser.key.name,
				Dimensions: []Dimension{{Name: DimensionStream, Value: ser.key.stream}},
			})
		}
	}
	sortMetricIDs(out)
	return out
}

// sortMetricIDs sorts stream metrics by metric name, then stream.
func sortMetricIDs(ids []MetricID) {
	slices.SortFunc(ids, func(a, b MetricID) int {
		return cmp.Or(cmp.Compare(a.MetricName, b.MetricName), cmp.Compare(a.Dimensions[0].Value, b.Dimensions[0].Value))
	})
}

// matchDims reports whether a metric of stream has every dimension of the filter.
func matchDims(stream string, filter []Dimension) bool {
	for _, d := range filter {
		if d.Name != DimensionStream || d.Value != "" && d.Value != stream {
			return false
		}
	}
	return true
}
