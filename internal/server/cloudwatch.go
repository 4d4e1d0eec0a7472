package server

import (
	"context"
	"time"

	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/metrics/cloudwatch"
	"github.com/hydrant-dev/hydrant/internal/metrics/peers"
)

// metricReader reads the stream metrics the CloudWatch API and the console show: this node's
// store alone, or in a cluster every live node's (docs/design/metrics.md, "Several nodes").
type metricReader interface {
	Statistics(ctx context.Context, q metrics.Query) ([]metrics.Datapoint, error)
	Series(ctx context.Context, stream, name string, since time.Time) ([]metrics.Datapoint, error)
	List(ctx context.Context, namespace, metricName string, dims []metrics.Dimension) ([]metrics.MetricID, error)
}

// localMetrics reads one node's store.
type localMetrics struct{ store *metrics.Store }

func (l localMetrics) Statistics(_ context.Context, q metrics.Query) ([]metrics.Datapoint, error) {
	return l.store.Statistics(q)
}

func (l localMetrics) Series(_ context.Context, stream, name string, since time.Time) ([]metrics.Datapoint, error) {
	return l.store.Series(stream, name, since), nil
}

func (l localMetrics) List(_ context.Context, namespace, metricName string, dims []metrics.Dimension) ([]metrics.MetricID, error) {
	return l.store.List(namespace, metricName, dims), nil
}

// clusterMetrics makes this node answer other nodes' metric reads and returns the reader that
// merges every live node's share.
func (s *Server) clusterMetrics(ctx context.Context) (*peers.Reader, error) {
	if err := s.journal.Serve(ctx, peers.Kind, journal.MaxPeerRequests, peers.Serve(s.metrics)); err != nil {
		return nil, err
	}
	r := peers.New(s.metrics, s.journal, s.livePeers, 0, s.log.With("part", "metrics"))
	s.metrics.Gauge("hydrant_cluster_metric_requests", "Requests for their metrics this node sent other nodes since the start, and those that failed.", func() []metrics.Sample {
		c := r.Counters()
		return []metrics.Sample{
			{Labels: map[string]string{"result": "asked"}, Value: float64(c.Asked)},
			{Labels: map[string]string{"result": "failed"}, Value: float64(c.Failed)},
		}
	})
	s.metrics.Gauge("hydrant_cluster_takeover_retries", "Failed attempts at starting the delivery of a stream this node took the lease of, since the start (each is retried while the node holds the lease).", func() []metrics.Sample {
		return []metrics.Sample{{Value: float64(s.owned.retries.Load())}}
	})
	return r, nil
}

// livePeers are the other nodes the lease manager saw alive in its last round.
func (s *Server) livePeers() []string {
	var out []string
	for _, n := range s.leases.Nodes() { // not Status: it copies every stream's owner
		if n.Live && n.Name != s.journal.Node() {
			out = append(out, n.Name)
		}
	}
	return out
}

var (
	_ metricReader = (*peers.Reader)(nil)
	_ peers.Asker  = (*journal.Journal)(nil)
)

// cloudWatchSource serves the CloudWatch read API from the metrics.
type cloudWatchSource struct{ read metricReader }

var _ cloudwatch.Source = cloudWatchSource{}

func (c cloudWatchSource) Statistics(ctx context.Context, q cloudwatch.Query) ([]cloudwatch.Datapoint, error) {
	dps, err := c.read.Statistics(ctx, metrics.Query{
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

func (c cloudWatchSource) List(ctx context.Context, namespace, metricName string, dims []cloudwatch.Dimension) ([]cloudwatch.Metric, error) {
	filter := make([]metrics.Dimension, len(dims))
	for i, d := range dims {
		filter[i] = metrics.Dimension{Name: d.Name, Value: d.Value}
	}
	ids, err := c.read.List(ctx, namespace, metricName, filter)
	if err != nil {
		return nil, err
	}
	out := make([]cloudwatch.Metric, len(ids))
	for i, id := range ids {
		m := cloudwatch.Metric{Namespace: id.Namespace, MetricName: id.MetricName}
		for _, d := range id.Dimensions {
			m.Dimensions = append(m.Dimensions, cloudwatch.Dimension{Name: d.Name, Value: d.Value})
		}
		out[i] = m
	}
	return out, nil
}
