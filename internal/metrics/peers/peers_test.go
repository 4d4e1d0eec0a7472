package peers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/metrics"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// nodes routes requests to the Serve handlers of other stores, in process; a node may be made to
// fail, hang until the request's context ends, or answer garbage.
type nodes struct {
	stores map[string]*metrics.Store
	fail   map[string]string // node → "error", "hang" or "garbage"
}

func (n *nodes) Ask(ctx context.Context, node, kind string, req []byte) ([]byte, error) {
	if kind != Kind {
		return nil, errors.New("wrong kind " + kind)
	}
	switch n.fail[node] {
	case "error":
		return nil, errors.New("connection refused")
	case "hang":
		<-ctx.Done()
		return nil, ctx.Err()
	case "garbage":
		return []byte(`{"periods":[{"t":60,"n":0}]}`), nil
	}
	return Serve(n.stores[node])(ctx, req)
}

func newStore(t *testing.T, now func() time.Time) *metrics.Store {
	t.Helper()
	s, err := metrics.Open(metrics.Config{}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReaderMergesEveryNode(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	all := newStore(t, clock)
	net := &nodes{stores: map[string]*metrics.Store{}, fail: map[string]string{}}
	names := []string{"n1", "n2", "n3"}
	for _, n := range names {
		net.stores[n] = newStore(t, clock)
	}
	// Puts land on every node; the stream's deliveries on n2 only.
	for i := range 300 {
		now = t0.Add(time.Duration(i) * time.Second)
		n := names[i%3]
		for _, s := range []*metrics.Store{all, net.stores[n]} {
			s.Record("s1", "IncomingRecords", metrics.UnitCount, float64(i%5+1))
			if n == "n2" {
				s.Record("s1", "DeliveryToS3.Records", metrics.UnitCount, 10)
			}
		}
		if i == 0 {
			for _, s := range []*metrics.Store{all, net.stores["n3"]} {
				s.Record("s2", "IncomingBytes", metrics.UnitBytes, 7)
			}
		}
	}
	r := New(net.stores["n1"], net, func() []string { return []string{"n2", "n3"} }, time.Second, nil)
	ctx := context.Background()
	q := metrics.Query{
		Namespace: metrics.Namespace, MetricName: "IncomingRecords",
		Dimensions: map[string]string{metrics.DimensionStream: "s1"},
		Start:      t0, End: t0.Add(time.Hour), Period: 2 * time.Minute, Percentiles: []string{"p50", "p90"},
	}
	for _, q := range []metrics.Query{q, metrics.SeriesQuery("s1", "DeliveryToS3.Records", t0)} {
		want, _ := all.Statistics(q)
		got, err := r.Statistics(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: cluster read differs from one store holding every sample (-want +got):\n%s", q.MetricName, diff)
		}
	}
	series, err := r.Series(ctx, "s1", "IncomingRecords", t0.Add(time.Minute))
	if err != nil || len(series) != 4 {
		t.Errorf("Series = %v, %v; want the 4 minutes from the second on", series, err)
	}
	list, err := r.List(ctx, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all.List("", "", nil), list); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if got := r.Counters(); got.Asked != 8 || got.Failed != 0 {
		t.Errorf("Counters = %+v, want 8 asked, 0 failed", got)
	}
	if _, err := r.Statistics(ctx, metrics.Query{Period: time.Second}); !errors.Is(err, metrics.ErrInvalidPeriod) {
		t.Errorf("an invalid query = %v, want ErrInvalidPeriod before any node is asked", err)
	}
}

// A live node that fails, does not answer in time or answers an invalid share fails the read:
// a sum without that node's samples would be wrong, and the CloudWatch client retries a fault.
func TestReaderRefusesAnIncompleteAnswer(t *testing.T) {
	for _, mode := range []string{"error", "hang", "garbage"} {
		t.Run(mode, func(t *testing.T) {
			clock := func() time.Time { return t0 }
			net := &nodes{stores: map[string]*metrics.Store{"n2": newStore(t, clock), "n3": newStore(t, clock)}, fail: map[string]string{"n3": mode}}
			net.stores["n3"].Record("s1", "IncomingRecords", metrics.UnitCount, 1)
			r := New(newStore(t, clock), net, func() []string { return []string{"n2", "n3"} }, 200*time.Millisecond, nil)
			start := time.Now()
			_, err := r.Statistics(context.Background(), metrics.SeriesQuery("s1", "IncomingRecords", t0))
			var ie *IncompleteError
			if !errors.Is(err, ErrIncomplete) || !errors.As(err, &ie) || len(ie.Nodes) != 1 || ie.Nodes[0] != "n3" {
				t.Fatalf("Statistics = %v, want ErrIncomplete naming n3", err)
			}
			if _, err := r.List(context.Background(), "", "", nil); !errors.Is(err, ErrIncomplete) {
				t.Errorf("List = %v, want ErrIncomplete", err)
			}
			if waited := time.Since(start); waited > 5*time.Second {
				t.Errorf("the reads waited %s, beyond the timeout's bound", waited)
			}
			if c := r.Counters(); c.Failed == 0 {
				t.Errorf("Counters = %+v, want the failures counted", c)
			}
		})
	}
}

// A cluster of one node, or a node whose peers are all gone, answers from its own store.
func TestReaderAlone(t *testing.T) {
	clock := func() time.Time { return t0 }
	local := newStore(t, clock)
	local.Record("s1", "IncomingRecords", metrics.UnitCount, 3)
	r := New(local, &nodes{}, func() []string { return nil }, 0, nil)
	got, err := r.Series(context.Background(), "s1", "IncomingRecords", t0)
	if err != nil || len(got) != 1 || got[0].Sum != 3 {
		t.Errorf("Series = %v, %v; want one minute of sum 3", got, err)
	}
}
