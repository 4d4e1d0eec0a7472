package server

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/catalog"
	"github.com/hydrant-dev/hydrant/internal/console"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/metrics/peers"
)

// consoleSource feeds the web console from the catalog, the metrics and the delivery workers.
type consoleSource struct{ s *Server }

var _ console.Source = consoleSource{}

func (c consoleSource) Streams() []console.StreamSummary {
	var out []console.StreamSummary
	for _, st := range c.s.cat.List() {
		out = append(out, summarize(st))
	}
	return out
}

func summarize(st catalog.Stream) console.StreamSummary {
	var dest struct{ BucketARN string }
	_ = json.Unmarshal(st.Destination.Config, &dest)
	return console.StreamSummary{
		Name: st.Name, Status: st.Status, Type: st.Type, Destination: st.Destination.Kind,
		Bucket: destination.BucketFromARN(dest.BucketARN), Created: st.Created,
	}
}

func (c consoleSource) Describe(name string) (json.RawMessage, bool) {
	st, err := c.s.cat.Get(name)
	if err != nil {
		return nil, false
	}
	d, err := describe(st)
	if err != nil {
		return nil, false
	}
	b, err := json.Marshal(api.DescribeDeliveryStreamOutput{DeliveryStreamDescription: d})
	return b, err == nil
}

// Series reads every node's share of a metric; when a node does not answer (logged and
// counted by the reader), it returns this node's share and says which nodes are missing.
func (c consoleSource) Series(ctx context.Context, name, metric string, since time.Time) ([]console.Point, error) {
	dps, err := c.s.read.Series(ctx, name, metric, since)
	if err != nil {
		dps = c.s.metrics.Series(name, metric, since)
		err = &console.IncompleteError{Nodes: missingNodes(err), Err: err}
	}
	out := make([]console.Point, len(dps))
	for i, d := range dps {
		v := d.Sum
		if console.Stat(metric) == "Maximum" {
			v = d.Maximum
		}
		out[i] = console.Point{Time: d.Timestamp, Value: v}
	}
	return out, err
}

// missingNodes names the nodes a failed cluster-wide read missed.
func missingNodes(err error) []string {
	var ie *peers.IncompleteError
	if errors.As(err, &ie) {
		return ie.Nodes
	}
	return nil
}

// Cluster shows the nodes the lease manager knows and which node delivers which stream.
func (c consoleSource) Cluster() (console.Cluster, bool) {
	if c.s.leases == nil {
		return console.Cluster{}, false
	}
	st := c.s.leases.Status()
	nodes := make([]console.Node, len(st.Nodes))
	for i, n := range st.Nodes {
		nodes[i] = console.Node{Name: n.Name, Addr: n.Addr, Started: n.Started, Live: n.Live}
	}
	return console.Cluster{
		Node: c.s.journal.Node(), Replicas: c.s.cfg.Journal.Cluster.Replicas,
		Nodes: nodes, Owners: st.Owners,
	}, true
}

func (c consoleSource) Objects(name string, limit int) []console.Object {
	objs, _ := c.s.deliveries.Recent(name, limit)
	out := make([]console.Object, 0, len(objs))
	for _, o := range objs {
		out = append(out, console.Object{Time: o.Time, Bucket: o.Bucket, Key: o.Key, Bytes: o.Bytes, Records: o.Records})
	}
	return out
}

func (c consoleSource) Failures(name string, limit int) []console.Failure {
	_, fs := c.s.deliveries.Recent(name, limit)
	out := make([]console.Failure, 0, len(fs))
	for _, f := range fs {
		out = append(out, console.Failure{Time: f.Time, Kind: f.Kind, Code: f.Code, Message: f.Message})
	}
	return out
}

func (c consoleSource) Journal() console.JournalSpace { return c.s.journalSpace() }

func (c consoleSource) Memory() console.MemoryBudget { return c.s.memory() }

func (c consoleSource) SourceStatus(name string) (console.SourceStatus, bool) {
	st, ok := c.s.sourceStatus(name)
	if !ok {
		return console.SourceStatus{}, false
	}
	parts := make([]console.Part, len(st.Parts))
	for i, p := range st.Parts {
		parts[i] = console.Part{ID: p.ID, Position: p.Position, Done: p.Done, LagMillis: p.LagMillis, LagRecords: p.LagRecords}
	}
	return console.SourceStatus{
		Kind: st.Kind, Source: st.Source, State: st.State,
		LagMillis: st.LagMillis, LagRecords: st.LagRecords,
		Records: st.Records, Bytes: st.Bytes, Throttled: st.Throttled,
		LastError: st.LastError, LastErrorAt: st.LastErrorAt, Parts: parts,
	}, true
}
