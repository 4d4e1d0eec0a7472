// Package peers answers metric reads for a cluster of nodes: each node keeps the metrics of what
// it served and delivered in its own store, and a read asks every other live node for its share
// and merges the shares exactly (docs/design/metrics.md, "Several nodes").
package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// Kind names the requests between nodes that carry metric reads.
const Kind = "metrics"

// DefaultTimeout bounds the wait for every node's share of one read.
const DefaultTimeout = 3 * time.Second

// ErrIncomplete reports a read that some live node did not answer: its answer would miss that
// node's samples, so none is given. The error is an *IncompleteError.
var ErrIncomplete = errors.New("metrics of some node unavailable")

// IncompleteError names the nodes a read missed, and why.
type IncompleteError struct {
	Nodes []string // the nodes that did not answer validly, in the order asked
	Err   error    // each node's error, joined
}

func (e *IncompleteError) Error() string { return ErrIncomplete.Error() + ": " + e.Err.Error() }

// Is makes errors.Is(err, ErrIncomplete) hold.
func (e *IncompleteError) Is(target error) bool { return target == ErrIncomplete }

func (e *IncompleteError) Unwrap() error { return e.Err }

// Asker sends a request to another node and returns its answer.
type Asker interface {
	Ask(ctx context.Context, node, kind string, req []byte) ([]byte, error)
}

// request is a read another node asks of this one.
type request struct {
	// Query asks for the store's Partial of it.
	Query *metrics.Query `json:"query,omitempty"`
	// List asks for the store's List with these filters.
	List *listRequest `json:"list,omitempty"`
}

type listRequest struct {
	Namespace  string              `json:"namespace"`
	MetricName string              `json:"metricName"`
	Dimensions []metrics.Dimension `json:"dimensions"`
}

// Serve returns the handler of other nodes' requests, answered from store.
func Serve(store *metrics.Store) func(ctx context.Context, req []byte) ([]byte, error) {
	return func(_ context.Context, b []byte) ([]byte, error) {
		var r request
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("decode metrics request: %w", err)
		}
		switch {
		case r.Query != nil:
			p, err := store.Partial(*r.Query)
			if err != nil {
				return nil, err
			}
			return json.Marshal(p)
		case r.List != nil:
			return json.Marshal(store.List(r.List.Namespace, r.List.MetricName, r.List.Dimensions))
		}
		return nil, errors.New("empty metrics request")
	}
}

// Counters count the reads of a Reader.
type Counters struct {
	// Asked counts requests to other nodes; Failed those that got no valid answer.
	Asked, Failed uint64
}

// Reader reads the metrics of the whole cluster.
type Reader struct {
	local   *metrics.Store
	ask     Asker
	peers   func() []string
	timeout time.Duration
	log     *slog.Logger

	asked, failed atomic.Uint64
}

// New returns a Reader that merges local's samples with those of the nodes peers returns (the
// other live nodes, asked at each read through ask). timeout bounds a read's wait for the other
// nodes; 0 means DefaultTimeout.
func New(local *metrics.Store, ask Asker, peers func() []string, timeout time.Duration, log *slog.Logger) *Reader {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{local: local, ask: ask, peers: peers, timeout: timeout, log: log}
}

// Counters returns the Reader's counters.
func (r *Reader) Counters() Counters {
	return Counters{Asked: r.asked.Load(), Failed: r.failed.Load()}
}

// Statistics answers q over the samples of every live node. The error wraps ErrIncomplete when a
// node did not answer, or is one of metrics.Store.Statistics's.
func (r *Reader) Statistics(ctx context.Context, q metrics.Query) ([]metrics.Datapoint, error) {
	own, err := r.local.Partial(q)
	if err != nil {
		return nil, err
	}
	parts, err := gather(ctx, r, request{Query: &q}, func(b []byte) (metrics.Partial, error) {
		var p metrics.Partial
		if err := json.Unmarshal(b, &p); err != nil {
			return p, err
		}
		return p, p.Check()
	})
	if err != nil {
		return nil, err
	}
	return metrics.Merge(q, append(parts, own)...)
}

// Series returns the per-minute datapoints of one stream metric from since on, over every live
// node, as metrics.Store.Series does for one.
func (r *Reader) Series(ctx context.Context, stream, name string, since time.Time) ([]metrics.Datapoint, error) {
	return r.Statistics(ctx, metrics.SeriesQuery(stream, name, since))
}

// List returns the metrics with data on any live node that match the filters, as
// metrics.Store.List does for one.
func (r *Reader) List(ctx context.Context, namespace, metricName string, dims []metrics.Dimension) ([]metrics.MetricID, error) {
	req := request{List: &listRequest{Namespace: namespace, MetricName: metricName, Dimensions: dims}}
	lists, err := gather(ctx, r, req, func(b []byte) ([]metrics.MetricID, error) {
		var ids []metrics.MetricID
		if err := json.Unmarshal(b, &ids); err != nil {
			return nil, err
		}
		for _, id := range ids {
			if len(id.Dimensions) != 1 || id.Dimensions[0].Name != metrics.DimensionStream {
				return nil, fmt.Errorf("metric %s without its stream dimension", id.MetricName)
			}
		}
		return ids, nil
	})
	if err != nil {
		return nil, err
	}
	return metrics.MergeLists(append(lists, r.local.List(namespace, metricName, dims))...), nil
}

// gather asks every other live node for req at once and decodes each answer with decode. Any
// node that does not answer validly within the Reader's timeout fails the read with
// ErrIncomplete.
func gather[T any](ctx context.Context, r *Reader, req request, decode func([]byte) (T, error)) ([]T, error) {
	nodes := r.peers()
	if len(nodes) == 0 {
		return nil, nil
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	out := make([]T, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.asked.Add(1)
			b, err := r.ask.Ask(ctx, node, Kind, body)
			if err == nil {
				out[i], err = decode(b)
			}
			if err != nil {
				r.failed.Add(1)
				errs[i] = fmt.Errorf("node %s: %w", node, err)
			}
		}()
	}
	wg.Wait()
	var missed []string
	for i, err := range errs {
		if err != nil {
			missed = append(missed, nodes[i])
		}
	}
	if len(missed) > 0 {
		err := &IncompleteError{Nodes: missed, Err: errors.Join(errs...)}
		r.log.Warn("metrics read missing a node's share", "err", err)
		return nil, err
	}
	return out, nil
}
