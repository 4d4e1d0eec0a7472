package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/catalog"
	"github.com/hydrant-dev/hydrant/internal/journal"
)

// startCluster starts n servers in process as the nodes of one cluster.
func startCluster(t *testing.T, n int) []*testServer {
	t.Helper()
	var listens, routes []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listens = append(listens, l.Addr().String())
		routes = append(routes, "nats://"+l.Addr().String())
		l.Close()
	}
	nodes := make([]*testServer, n)
	readies := make([]func() error, n)
	for i := range n {
		nodes[i], readies[i] = launchServer(t, "", func(c *Config) {
			c.Node, c.ClusterListen, c.Routes = fmt.Sprintf("n%d", i+1), listens[i], routes
		})
	}
	for i, ready := range readies {
		if err := ready(); err != nil {
			t.Fatalf("node n%d: %v", i+1, err)
		}
	}
	return nodes
}

// statusOn returns the stream's status as a node describes it, or "gone".
func statusOn(t *testing.T, ts *testServer, name string) string {
	t.Helper()
	out, err := ts.client.DescribeDeliveryStream(context.Background(), &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return "gone"
	case err != nil:
		t.Fatalf("describe %s: %v", name, err)
	}
	return string(out.DeliveryStreamDescription.DeliveryStreamStatus)
}

// waitEverywhere waits until every node reports want for the stream.
func waitEverywhere(t *testing.T, nodes []*testServer, name, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, ts := range nodes {
		for got := statusOn(t, ts, name); got != want; got = statusOn(t, ts, name) {
			if time.Now().After(deadline) {
				t.Fatalf("stream %s is %s on %s %s after the change, want %s", name, got, ts.srv.journal.Node(), within, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// A node that dies after it stored a stream's CREATING or DELETING entry, before it finished
// the transition, leaves it to the stream's lease holder. The death is staged by writing the
// entry through a node's catalog without the work that follows a request.
func TestClusterFinishesAnOrphanedTransition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := startCluster(t, 3)
	ctx := context.Background()
	nodes[0].createStream(t, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("made"), ExtendedS3DestinationConfiguration: s3Config("lake"),
	})
	made, err := nodes[0].srv.cat.Get("made")
	if err != nil {
		t.Fatal(err)
	}

	orphan := made.Clone()
	orphan.Name, orphan.ARN, orphan.Status = "orphan", made.ARN+"-orphan", string(api.StatusCreating)
	if err := nodes[0].srv.cat.Create(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitEverywhere(t, nodes, "orphan", string(api.StatusActive), 20*time.Second)
	t.Logf("an orphaned CREATING stream was ACTIVE on every node %.1f s later", time.Since(start).Seconds())

	// Puts through every node are appended by the node that delivers the stream.
	var owner *testServer
	for deadline := time.Now().Add(10 * time.Second); owner == nil; time.Sleep(50 * time.Millisecond) {
		for _, ts := range nodes {
			if ts.srv.leases.Owns("orphan") {
				owner = ts
			}
		}
		if owner == nil && time.Now().After(deadline) {
			t.Fatal("no node delivers the finished stream")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, live := nodes[0].srv.leases.Owner("orphan"); live {
			break // every node's last round has seen the owner
		} else if time.Now().After(deadline) {
			t.Fatal("n1 does not know who delivers the stream")
		}
	}
	time.Sleep(2500 * time.Millisecond) // one more lease round, for the other nodes
	for _, ts := range nodes {
		for range 3 {
			if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{
				DeliveryStreamName: aws.String("orphan"), Record: &types.Record{Data: []byte("x\n")},
			}); err != nil {
				t.Errorf("put to the finished stream through %s: %v", ts.srv.journal.Node(), err)
			}
		}
	}
	for _, ts := range nodes {
		a := &ts.srv.appends
		got := [4]uint64{a.forwarded.Load(), a.fellBack.Load(), a.failed.Load(), a.served.Load()}
		want := [4]uint64{3, 0, 0, 0}
		if ts == owner {
			want = [4]uint64{0, 0, 0, 6}
		}
		if got != want {
			t.Errorf("%s: puts forwarded, fell back, failed, served = %v, want %v", ts.srv.journal.Node(), got, want)
		}
	}

	if _, err := nodes[1].srv.cat.Update(ctx, "made", func(st *catalog.Stream) error {
		st.Status = string(api.StatusDeleting)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	waitEverywhere(t, nodes, "made", "gone", 20*time.Second)
	t.Logf("an orphaned DELETING stream was gone from every node %.1f s later", time.Since(start).Seconds())
	// Every node forgets what it cached of the deleted stream's journal.
	for _, ts := range nodes {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, err := ts.srv.journal.Stats(ctx, "made")
			if errors.Is(err, journal.ErrNoStream) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the journal of the deleted stream on %s: %v, want ErrNoStream", ts.srv.journal.Node(), err)
			}
		}
	}
}
