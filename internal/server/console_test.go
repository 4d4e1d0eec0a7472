package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/console"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/metrics/peers"
)

// failingPeers answers every metrics request of the nodes in fail with an error, and the others'
// with an empty share.
type failingPeers struct{ fail map[string]bool }

func (f failingPeers) Ask(ctx context.Context, node, kind string, req []byte) ([]byte, error) {
	if f.fail[node] {
		return nil, errors.New("no responders")
	}
	empty, err := metrics.Open(metrics.Config{}, nil, time.Now)
	if err != nil {
		return nil, err
	}
	return peers.Serve(empty)(ctx, req)
}

// TestConsoleSeriesIncomplete checks that the console gets this node's share of a metric with
// the nodes that did not answer, as the metrics reader reports them.
func TestConsoleSeriesIncomplete(t *testing.T) {
	tests := []struct {
		name        string
		fail        map[string]bool
		wantMissing []string // nil: the read is whole
	}{
		{name: "every node answers", fail: nil},
		{name: "one node silent", fail: map[string]bool{"n3": true}, wantMissing: []string{"n3"}},
		{name: "two nodes silent", fail: map[string]bool{"n2": true, "n3": true}, wantMissing: []string{"n2", "n3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			local, err := metrics.Open(metrics.Config{}, nil, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			local.Record("s1", console.IncomingRecords, metrics.UnitCount, 5)
			read := peers.New(local, failingPeers{tc.fail}, func() []string { return []string{"n2", "n3"} }, time.Second, nil)
			src := consoleSource{&Server{metrics: local, read: read}}

			points, err := src.Series(context.Background(), "s1", console.IncomingRecords, now.Add(-time.Hour))
			var got []float64
			for _, p := range points {
				got = append(got, p.Value)
			}
			if diff := cmp.Diff([]float64{5}, got); diff != "" {
				t.Errorf("values mismatch (-want +got):\n%s", diff)
			}
			var inc *console.IncompleteError
			switch {
			case tc.wantMissing == nil && err != nil:
				t.Errorf("Series error = %v, want none", err)
			case tc.wantMissing != nil && !errors.As(err, &inc):
				t.Errorf("Series error = %v, want a *console.IncompleteError", err)
			case tc.wantMissing != nil:
				if diff := cmp.Diff(tc.wantMissing, inc.Nodes); diff != "" {
					t.Errorf("missing nodes mismatch (-want +got):\n%s", diff)
				}
				if !errors.Is(err, peers.ErrIncomplete) {
					t.Errorf("Series error = %v, want it to wrap peers.ErrIncomplete", err)
				}
			}
		})
	}
}

// TestConsoleCluster checks that every node of a cluster shows the same nodes in its console and
// the node that holds each stream's lease as its delivering node.
func TestConsoleCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 2-node cluster")
	}
	nodes := startCluster(t, 2)
	nodes[0].createStream(t, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("clicks"), ExtendedS3DestinationConfiguration: s3Config("lake"),
	})
	type node struct {
		Name    string `json:"name"`
		Live    bool   `json:"live"`
		Self    bool   `json:"self"`
		Streams int    `json:"streams"`
	}
	type list struct {
		Cluster struct {
			Node  string `json:"node"`
			Nodes []node `json:"nodes"`
		} `json:"cluster"`
		Streams []struct {
			Name        string `json:"name"`
			DeliveredBy string `json:"deliveredBy"`
		} `json:"streams"`
	}
	view := func(ts *testServer) list {
		t.Helper()
		res, err := http.Get(ts.url + "/console/api/streams")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var l list
		if err := json.NewDecoder(res.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	owner := func() string {
		for _, ts := range nodes {
			if ts.srv.leases.Owns("clicks") {
				return ts.srv.journal.Node()
			}
		}
		return ""
	}
	for i, ts := range nodes {
		var got list
		var holder string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got, holder = view(ts), owner()
			if holder != "" && len(got.Streams) == 1 && got.Streams[0].DeliveredBy == holder && len(got.Cluster.Nodes) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node n%d shows %+v; the lease is held by %q", i+1, got, holder)
			}
		}
		want := []node{{Name: "n1", Live: true}, {Name: "n2", Live: true}}
		for j := range want {
			want[j].Self = want[j].Name == ts.srv.journal.Node()
			if want[j].Name == holder {
				want[j].Streams = 1
			}
		}
		if diff := cmp.Diff(want, got.Cluster.Nodes); diff != "" {
			t.Errorf("nodes on n%d mismatch (-want +got):\n%s", i+1, diff)
		}
	}
}
