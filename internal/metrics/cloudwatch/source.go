package cloudwatch

import (
	"context"
	"time"
)

// Datapoint is the aggregate of one metric over one period.
type Datapoint struct {
	// Timestamp is the start of the period.
	Timestamp time.Time
	// SampleCount, Sum, Minimum and Maximum summarise the samples of the period.
	SampleCount, Sum, Minimum, Maximum float64
	// Unit is the StandardUnit the samples were recorded with; empty means None.
	Unit string
	// Percentiles holds a value for each percentile name in Query.Percentiles ("p99").
	Percentiles map[string]float64
}

// Query selects one metric's datapoints.
type Query struct {
	// Namespace and MetricName name the metric.
	Namespace, MetricName string
	// Dimensions must equal the metric's dimensions exactly.
	Dimensions map[string]string
	// Start and End bound the datapoints' timestamps: Start ≤ Timestamp < End.
	Start, End time.Time
	// Period is the length of each aggregation bucket, a multiple of one minute.
	Period time.Duration
	// Percentiles are the percentile statistics wanted, as CloudWatch names them ("p99", "p99.9").
	Percentiles []string
}

// Metric identifies a metric: a namespace, a name and a set of dimensions.
type Metric struct {
	Namespace, MetricName string
	Dimensions            []Dimension
}

// Dimension is a name/value pair of a metric's identity.
type Dimension struct {
	Name, Value string
}

// Source is where the handler reads metrics from.
type Source interface {
	// Statistics returns the datapoints of q's metric, one per Period bucket in [Start, End).
	Statistics(ctx context.Context, q Query) ([]Datapoint, error)
	// List returns the metrics in namespace with metricName (empty strings match any) that
	// have every dimension in dims; a Dimension with an empty Value matches any value.
	List(ctx context.Context, namespace, metricName string, dims []Dimension) ([]Metric, error)
}
