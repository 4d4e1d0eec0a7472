package metrics

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
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
	if q.Period <= 0 || q.Period%time.Minute != 0 {
		return nil, fmt.Errorf("%w, got %s", ErrInvalidPeriod, q.Period)
	}
	ps := make([]float64, len(q.Percentiles))
	for i, name := range q.Percentiles {
		p, ok := parsePercentile(name)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrInvalidPercentile, name)
		}
		ps[i] = p
	}
	if q.Namespace != Namespace || len(q.Dimensions) != 1 {
		return nil, nil
	}
	stream, ok := q.Dimensions[DimensionStream]
	if !ok {
		return nil, nil
	}
	ser := s.get(stream, q.MetricName)
	if ser == nil {
		return nil, nil
	}
	ser.drain()
	origin := unixMinute(q.Start) * 60 // periods are aligned to Start rounded down to the minute
	from := max(unixMinute(q.Start), s.oldestKept())
	to := unixMinute(q.End) // exclusive
	if time.Unix(to*60, 0).Before(q.End) {
		to++
	}
	period := int64(q.Period / time.Second)
	withHist := len(ps) > 0

	var out []Datapoint
	var acc minute
	flush := func() {
		if acc.n == 0 {
			return
		}
		d := Datapoint{
			Timestamp:   time.Unix(acc.t, 0).UTC(),
			SampleCount: float64(acc.n),
			Sum:         acc.sum,
			Minimum:     acc.min,
			Maximum:     acc.max,
			Unit:        ser.unit,
		}
		if withHist && acc.min >= 0 {
			d.Percentiles = make(map[string]float64, len(ps))
			for i, p := range ps {
				d.Percentiles[q.Percentiles[i]] = percentile(acc.hist, acc.n, acc.min, acc.max, p)
			}
		}
		out = append(out, d)
		acc = minute{}
	}

	ser.mu.Lock()
	defer ser.mu.Unlock()
	i := sort.Search(len(ser.minutes), func(i int) bool { return ser.minutes[i].t >= from })
	for ; i < len(ser.minutes) && ser.minutes[i].t < to; i++ {
		m := &ser.minutes[i]
		start := origin + floorDiv(m.t*60-origin, period)*period
		if acc.n > 0 && acc.t != start {
			flush()
		}
		o := minute{n: m.n, sum: m.sum, min: m.min, max: m.max}
		if withHist {
			o.hist = m.hist
		}
		acc.merge(&o)
		acc.t = start
	}
	flush()
	return out, nil
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
	ser := s.get(stream, name)
	if ser == nil {
		return nil
	}
	ser.drain()
	from := max(unixMinute(since), s.oldestKept())
	ser.mu.Lock()
	defer ser.mu.Unlock()
	var out []Datapoint
	i := sort.Search(len(ser.minutes), func(i int) bool { return ser.minutes[i].t >= from })
	for _, m := range ser.minutes[i:] {
		out = append(out, Datapoint{
			Timestamp:   time.Unix(m.t*60, 0).UTC(),
			SampleCount: float64(m.n),
			Sum:         m.sum,
			Minimum:     m.min,
			Maximum:     m.max,
			Unit:        ser.unit,
		})
	}
	return out
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
	slices.SortFunc(out, func(a, b MetricID) int {
		return cmp.Or(cmp.Compare(a.MetricName, b.MetricName), cmp.Compare(a.Dimensions[0].Value, b.Dimensions[0].Value))
	})
	return out
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
