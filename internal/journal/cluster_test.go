package journal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// openCluster opens n journals routed into one cluster, concurrently (each waits for the others
// to place its assets).
func openCluster(t *testing.T, n int, tune func(*Config)) []*Journal {
	t.Helper()
	ports := testenv.FreePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	js := make([]*Journal, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfg := Config{Dir: t.TempDir(), Cluster: ClusterConfig{
			Node: fmt.Sprintf("n%d", i+1), Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes, Wait: 30 * time.Second,
		}}
		if tune != nil {
			tune(&cfg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			js[i], errs[i] = Open(context.Background(), cfg, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open node %d: %v", i+1, err)
		}
		t.Cleanup(func() { js[i].Close() })
	}
	return js
}

// Appends from every node of a 3-node cluster land once each, numbered 1, 2, 3, ... in the
// stream's own numbering; with one node gone the other two go on; with two gone, the last one
// refuses (no quorum).
func TestClusterAppendsFromEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	js := openCluster(t, 3, func(c *Config) { c.PublishTimeout = 3 * time.Second })
	ctx := context.Background()
	if err := js[0].CreateStream(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	const per = 200
	var wg sync.WaitGroup
	for i, j := range js {
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range per / 4 {
					if _, err := j.Append(ctx, "s", time.Now(), [][]byte{fmt.Appendf(nil, "n%d-w%d-%d", i, w, k)}); err != nil {
						t.Errorf("node %d append: %v", i+1, err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	batches := readAll(t, js[1], "s", 1)
	seen := map[string]int{}
	for k, b := range batches {
		if b.LSeq != uint64(k+1) {
			t.Fatalf("message %d has lseq %d, want %d: numbering across nodes must be exact", k, b.LSeq, k+1)
		}
		for _, r := range b.Records {
			seen[string(r)]++
		}
	}
	if len(seen) != 3*per {
		t.Errorf("%d distinct records, want %d", len(seen), 3*per)
	}
	for r, n := range seen {
		if n != 1 {
			t.Errorf("record %s stored %d times", r, n)
		}
	}

	// An append on one node wakes what waits for the stream on another (an idle delivery
	// worker keeps no goroutine and sleeps until the next append).
	woke := make(chan struct{})
	cancelWake := js[1].AfterAppend("s", func() { close(woke) })
	defer cancelWake()
	if _, err := js[0].Append(ctx, "s", time.Now(), [][]byte{[]byte("wake the others")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woke:
	case <-time.After(10 * time.Second):
		t.Error("an append on node 1 did not wake node 2's waiter within 10 s")
	}

	js[2].Close()
	if _, err := js[0].Append(ctx, "s", time.Now(), [][]byte{[]byte("after one node left")}); err != nil {
		t.Errorf("append with 2 of 3 nodes: %v", err)
	}
	js[1].Close()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := js[0].Append(actx, "s", time.Now(), [][]byte{[]byte("alone")}); err == nil {
		t.Error("a node alone acknowledged an append the quorum did not store")
	}
}

// Requests between nodes: an answer, an error, an unknown node, and the bound on requests served
// at once.
func TestClusterPeerRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	js := openCluster(t, 3, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release, entered := make(chan struct{}), make(chan struct{}, MaxPeerRequests)
	if err := js[1].Serve(ctx, "echo", MaxPeerRequests, func(_ context.Context, req []byte) ([]byte, error) {
		switch string(req) {
		case "fail":
			return nil, errors.New("no such thing")
		case "full":
			return nil, fmt.Errorf("append: %w", ErrFull)
		case "block":
			entered <- struct{}{}
			<-release
		}
		return append([]byte("n2:"), req...), nil
	}); err != nil {
		t.Fatal(err)
	}
	ask := func(req string) ([]byte, error) {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		return js[0].Ask(actx, "n2", "echo", []byte(req))
	}
	// The other nodes learn of the subscription shortly after Serve.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := ask("hello")
		if err == nil && string(got) == "n2:hello" {
			break
		}
		if !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
			t.Fatalf("Ask = %q, %v; want n2:hello", got, err)
		}
	}
	if _, err := ask("fail"); !errors.Is(err, ErrPeerFailed) || !strings.Contains(err.Error(), "no such thing") {
		t.Errorf("Ask of a failing handler = %v, want ErrPeerFailed with its message", err)
	}
	if _, err := ask("full"); !errors.Is(err, ErrFull) {
		t.Errorf("Ask of a handler failing with ErrFull = %v, want ErrFull across the nodes", err)
	}
	if _, err := js[0].Ask(ctx, "n9", "echo", nil); !errors.Is(err, ErrPeerAbsent) {
		t.Errorf("Ask of an unknown node = %v, want no responders", err)
	}
	// MaxPeerRequests blocked requests fill the node; the next one is refused at once.
	var wg sync.WaitGroup
	for range MaxPeerRequests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ask("block"); err != nil {
				t.Errorf("blocked request: %v", err)
			}
		}()
	}
	for range MaxPeerRequests {
		<-entered
	}
	if _, err := ask("hello"); !errors.Is(err, ErrPeerBusy) {
		t.Errorf("with %d requests in service, Ask = %v, want ErrPeerBusy", MaxPeerRequests, err)
	}
	close(release)
	wg.Wait()
	if got, err := ask("again"); err != nil || string(got) != "n2:again" {
		t.Errorf("Ask after the blocked requests = %q, %v", got, err)
	}
	if _, err := (&Journal{}).Ask(ctx, "n2", "echo", nil); !errors.Is(err, ErrNotClustered) {
		t.Errorf("Ask outside a cluster = %v, want ErrNotClustered", err)
	}
}
