package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// clusterNode is one node's process and what restarts it.
type clusterNode struct {
	name string
	*server
}

// startCluster starts n nodes on loopback at once (each waits for the others to form the
// cluster), with MinIO as the shared store.
func startCluster(t *testing.T, n int, env []string) []*clusterNode {
	t.Helper()
	var routes, clusterAddrs []string
	for range n {
		a := freeAddr(t)
		clusterAddrs = append(clusterAddrs, a)
		routes = append(routes, "nats://"+a)
	}
	nodes := make([]*clusterNode, n)
	logs := t.TempDir()
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		s := &server{t: t, DataDir: t.TempDir(), Addr: freeAddr(t), env: env, client: http.DefaultClient,
			args:    []string{"--node", name, "--cluster-listen", clusterAddrs[i], "--routes", strings.Join(routes, ",")},
			logPath: filepath.Join(logs, name+".log")}
		s.URL = "http://" + s.Addr
		nodes[i] = &clusterNode{name: name, server: s}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nd.exited = make(chan struct{})
			errs[i] = nd.start()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %s: %v\n%s", nodes[i].name, err, nodes[i].logTail())
		}
		t.Cleanup(nodes[i].cleanup)
	}
	return nodes
}

// restart starts a killed node again on its data directory and ports.
func (n *clusterNode) restart(t *testing.T) {
	t.Helper()
	n.exited = make(chan struct{})
	n.logPath = strings.TrimSuffix(n.logPath, ".log") + "-again.log"
	if err := n.start(); err != nil {
		t.Fatalf("restart %s: %v\n%s", n.name, err, n.logTail())
	}
}

// owner asks a node which node delivers stream ("" when none does).
func owner(t *testing.T, via *clusterNode, stream string) string {
	t.Helper()
	o, _ := clusterView(http.DefaultClient, via.URL, stream)
	return o
}

// clusterView asks the node at url which node delivers stream ("" when none does, or the node
// does not answer) and which nodes it sees live.
func clusterView(hc *http.Client, url, stream string) (owner string, live []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_hydrant/cluster", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return "", nil
	}
	defer resp.Body.Close()
	var st struct {
		Leases struct {
			Owners map[string]string `json:"owners"`
			Nodes  []struct {
				Name string
				Live bool
			} `json:"nodes"`
		} `json:"leases"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return "", nil
	}
	for _, n := range st.Leases.Nodes {
		if n.Live {
			live = append(live, n.Name)
		}
	}
	o := st.Leases.Owners[stream]
	if !slices.Contains(live, o) {
		o = ""
	}
	return o, live
}

// TestClusterKillTheDeliveringNode runs three nodes as one service: puts go through all three,
// the node that delivers the stream is killed with SIGKILL during the load, another node takes
// delivery over, the killed node comes back with an empty disk, and every acknowledged record
// is in MinIO exactly once.
func TestClusterKillTheDeliveringNode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary")
	}
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "lake")
	env := m.Env()
	nodes := startCluster(t, 3, env)
	createS3Stream(t, newFirehose(nodes[0].URL), "orders", "lake", 1, 60)

	// Every node knows the stream (the catalog is shared) and one node delivers it.
	var delivering string
	deadline := time.Now().Add(30 * time.Second)
	for delivering == "" && time.Now().Before(deadline) {
		delivering = owner(t, nodes[1], "orders")
		time.Sleep(100 * time.Millisecond)
	}
	if delivering == "" {
		t.Fatal("no node delivers the stream 30 s after its creation")
	}
	ctx := context.Background()
	for _, nd := range nodes {
		d, err := newFirehose(nd.URL).DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
		if err != nil || d.DeliveryStreamDescription.DeliveryStreamStatus != types.DeliveryStreamStatusActive {
			t.Fatalf("describe on %s: %v", nd.name, err)
		}
	}

	var mu sync.Mutex
	acked := map[string]bool{}
	put := func(nd *clusterNode, prefix string, n int) {
		recs := make([]types.Record, n)
		for i := range recs {
			recs[i] = types.Record{Data: []byte(`{"id":"` + fmt.Sprintf("%s-%d", prefix, i) + `"}` + "\n")}
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out, err := newFirehose(nd.URL).PutRecordBatch(cctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("orders"), Records: recs})
		if err != nil {
			return // not acknowledged (the node is down, or the call failed)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, e := range out.RequestResponses {
			if e.ErrorCode == nil {
				acked[fmt.Sprintf("%s-%d", prefix, i)] = true
			}
		}
	}
	load := func(round int) {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); put(nd, fmt.Sprintf("r%d-%s", round, nd.name), 200) }()
		}
		wg.Wait()
	}
	for r := range 5 {
		load(r)
	}
	// Any node answers CloudWatch for the whole cluster: each counts the puts every node took and
	// the records the owner delivered.
	flushUntilStored(t, nodes[2].URL, "orders", m, acked)
	for _, nd := range nodes {
		for _, metric := range []string{"IncomingRecords", "DeliveryToS3.Records"} {
			if got := cloudWatchSum(t, nd.URL, "orders", metric); got != float64(len(acked)) {
				t.Errorf("%s on %s = %v, want the %d records the cluster acknowledged", metric, nd.name, got, len(acked))
			}
		}
	}
	var victim *clusterNode
	for _, nd := range nodes {
		if nd.name == delivering {
			victim = nd
		}
	}
	victim.Kill()
	killed := time.Now()
	var survivor *clusterNode
	for _, nd := range nodes {
		if nd != victim {
			survivor = nd
			break
		}
	}
	// Watch for the takeover on its own, so that puts waiting out the new leaders' election do
	// not delay seeing it.
	type takeover struct {
		node  string
		after time.Duration
	}
	took := make(chan takeover, 1)
	go func() {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if o := owner(t, survivor, "orders"); o != "" && o != delivering {
				took <- takeover{o, time.Since(killed)}
				return
			}
		}
		close(took)
	}()
	var taker string
	var tookAfter time.Duration
	r := 5
	for taker == "" {
		load(r)
		r++
		select {
		case o, ok := <-took:
			if !ok {
				t.Fatalf("no other node took delivery over within 60 s of the kill\n%s", survivor.logTail())
			}
			taker, tookAfter = o.node, o.after
		default:
		}
	}
	t.Logf("%s took delivery over from %s %.1f s after the kill", taker, delivering, tookAfter.Seconds())
	for end := r + 5; r < end; r++ {
		load(r)
	}
	// The killed node lost its disk: it comes back empty under its name, and the cluster
	// catches its replicas up; it serves the stream it has never seen on its own disk.
	if err := os.RemoveAll(victim.DataDir); err != nil {
		t.Fatal(err)
	}
	victim.restart(t)
	if _, err := newFirehose(victim.URL).DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")}); err != nil {
		t.Errorf("describe on %s after it lost its disk: %v", victim.name, err)
	}
	for end := r + 5; r < end; r++ {
		load(r)
	}

	// Flush through any node (forwarded to the owner) until MinIO holds every acknowledged record.
	counts := flushUntilStored(t, survivor.URL, "orders", m, acked)
	missing, dup, _ := tally(counts, acked, false, nil)
	if len(missing)+len(dup) > 0 {
		t.Errorf("%d records acknowledged: %d missing from MinIO (%.5q), %d duplicated (%.5q)", len(acked), len(missing), missing, len(dup), dup)
	}
	if len(acked) < 2*200*15 {
		t.Errorf("only %d records acknowledged: the two live nodes should take puts during the takeover", len(acked))
	}

	// Every node, the one back with an empty disk too, lists the whole cluster.
	for _, nd := range nodes {
		out, err := exec.Command(binary, "cluster", "status", "--endpoint-url", nd.URL).CombinedOutput()
		if err != nil {
			t.Fatalf("hydrant cluster status: %v\n%s", err, out)
		}
		for _, other := range nodes {
			if !strings.Contains(string(out), other.name+" ") {
				t.Errorf("cluster status through %s does not list %s:\n%s", nd.name, other.name, out)
			}
		}
		if nd == victim {
			t.Logf("cluster status through %s:\n%s", nd.name, out)
		}
	}
}

// TestClusterRollingRestart restarts every node in turn (SIGTERM, then start again) while
// producers put through all three. A producer whose call fails retries the same records on the
// next node, as a client behind a load balancer would: every record ends up acknowledged, and
// MinIO holds each exactly once, except records whose first attempt failed without an answer
// (those may be stored twice, as with Firehose).
func TestClusterRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary")
	}
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "lake")
	env := m.Env()
	nodes := startCluster(t, 3, env)
	createS3Stream(t, newFirehose(nodes[0].URL), "roll", "lake", 1, 60)
	for deadline := time.Now().Add(30 * time.Second); owner(t, nodes[0], "roll") == "" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}

	ctx, stopLoad := context.WithCancel(context.Background())
	var mu sync.Mutex
	acked := map[string]bool{}
	retried := map[string]bool{} // records of a call that failed at least once
	var failedCalls, gaveUp int
	var wg sync.WaitGroup
	for p := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := 0; ctx.Err() == nil; batch++ {
				ids := make([]string, 100)
				recs := make([]types.Record, len(ids))
				for i := range ids {
					ids[i] = fmt.Sprintf("p%d-b%d-%d", p, batch, i)
					recs[i] = types.Record{Data: []byte(`{"id":"` + ids[i] + `"}` + "\n")}
				}
				done := false
				for attempt := 0; attempt < 30 && !done; attempt++ {
					nd := nodes[(p+batch+attempt)%3]
					cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					out, err := newFirehose(nd.URL).PutRecordBatch(cctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("roll"), Records: recs})
					cancel()
					mu.Lock()
					if err != nil || aws.ToInt32(out.FailedPutCount) > 0 {
						failedCalls++
						for _, id := range ids {
							retried[id] = true
						}
						mu.Unlock()
						time.Sleep(200 * time.Millisecond)
						continue
					}
					for _, id := range ids {
						acked[id] = true
					}
					mu.Unlock()
					done = true
				}
				if !done {
					mu.Lock()
					gaveUp++
					mu.Unlock()
				}
				time.Sleep(50 * time.Millisecond) // a bounded load: about 2,000 records/s per producer
			}
		}()
	}
	time.Sleep(2 * time.Second)
	for _, nd := range nodes {
		nd.Stop()
		time.Sleep(time.Second)
		nd.restart(t)
		time.Sleep(3 * time.Second)
	}
	stopLoad()
	wg.Wait()
	if gaveUp > 0 {
		t.Errorf("%d batches were refused by every node 30 times", gaveUp)
	}

	counts := flushUntilStored(t, nodes[1].URL, "roll", m, acked)
	missing, dup, _ := tally(counts, acked, false, func(id string) bool { return retried[id] })
	if len(missing)+len(dup) > 0 {
		t.Errorf("%d records acknowledged: %d missing from MinIO (%.5q), %d stored twice without a failed attempt (%.5q)", len(acked), len(missing), missing, len(dup), dup)
	}
	t.Logf("rolling restart: %d records acknowledged, %d calls failed and were retried on another node", len(acked), failedCalls)
}

// flushUntilStored flushes stream through the node at url (forwarded to its owner) until MinIO's
// bucket lake holds every wanted record or 90 s pass, and returns the records found.
func flushUntilStored(t *testing.T, url, stream string, m *testenv.MinIO, want map[string]bool) map[string]int {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, url+"/_hydrant/flush?stream="+stream, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		counts := kinesisLines(t, m.Objects(t, "lake"))
		if missing, _, _ := tally(counts, want, false, nil); len(missing) == 0 || time.Now().After(deadline) {
			return counts
		}
		time.Sleep(500 * time.Millisecond)
	}
}
