package server

import (
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/metrics/cloudwatch"
)

// cloudWatchSource serves the CloudWatch read API from the metrics store.
type cloudWatchSource struct{ store *metrics.Store }

var _ cloudwatch.Source = cloudWatchSource{}

func (c cloudWatchSource) Statistics(q cloudwatch.Query) ([]cloudwatch.Datapoint, error) {
	dps, err := c.store.Statistics(metrics.Query{
		Namespace: q.Namespace, MetricName: q.MetricName, Dimensions: q.Dimensions,
		Start: q.Start, End: q.End, Period: q.Period, Percentiles: q.Percentiles,
	})
	if err != nil {
		return nil, err
	}
	out := make([]cloudwatch.Datapoint, len(dps))
	for i, d := range dps {
		out[i] = cloudwatch.Datapoint{
			Timestamp: d.Timestamp, SampleCount: d.SampleCount, Sum: d.Sum, Minimum: d.Minimum, Maximum: d.Maximum,
			Unit: string(d.Unit), Percentiles: d.Percentiles,
		}
	}
	return out, nil
}

func (c cloudWatchSource) List(namespace, metricName string, dims []cloudwatch.Dimension) []cloudwatch.Metric {
	filter := make([]metrics.Dimension, len(dims))
	for i, d := range dims {
		filter[i] = metrics.Dimension{Name: d.Name, Value: d.Value}
	}
	ids := c.store.List(namespace, metricName, filter)
	out := make([]cloudwatch.Metric, len(ids))
	for i, id := range ids {
		m := cloudwatch.Metric{Namespace: id.Namespace, MetricName: id.MetricName}
		for _, d := range id.Dimensions {
			m.Dimensions = append(m.Dimensions, cloudwatch.Dimension{Name: d.Name, Value: d.Value})
		}
		out[i] = m
	}
	return out
}
