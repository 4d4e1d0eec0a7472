package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// node is one hydrant process the benchmark started.
type node struct {
	name, dataDir, natsAddr string
	proc                    *harness.Proc
}

// startSingle starts one hydrant node without a cluster: the baseline.
func startSingle(ws *harness.Workspace) ([]*node, error) {
	n := &node{name: "single", dataDir: filepath.Join(ws.Tmp, "single")}
	p, err := harness.StartProc(harness.ProcSpec{
		Name: "hydrant single", LogPath: filepath.Join(ws.Tmp, "single.log"), Ready: "/_hydrant/health", Within: time.Minute,
		Argv: []string{ws.Hydrant, "serve", "--listen", "{addr}", "--data-dir", n.dataDir, "--object-store", "local",
			"--log-level", "warn", "--pprof-listen", "{addr2}"},
	})
	if err != nil {
		return nil, err
	}
	n.proc = p
	return []*node{n}, nil
}

// startCluster starts three nodes at once, routed to each other on loopback. Each also
// exposes its embedded NATS server (natsListen in a config file) so the benchmark can ask
// JetStream which node leads which journal shard.
func startCluster(ws *harness.Workspace) ([]*node, error) {
	const n = 3
	nodes := make([]*node, n)
	routes := make([]string, n)
	cluster := make([]string, n)
	for i := range nodes {
		var err error
		if cluster[i], err = harness.FreeAddr(); err != nil {
			return nil, err
		}
		routes[i] = "nats://" + cluster[i]
		natsAddr, err := harness.FreeAddr()
		if err != nil {
			return nil, err
		}
		nodes[i] = &node{name: fmt.Sprintf("n%d", i+1), dataDir: filepath.Join(ws.Tmp, fmt.Sprintf("n%d", i+1)), natsAddr: natsAddr}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range nodes {
		cfg := filepath.Join(ws.Tmp, nd.name+".yaml")
		if err := os.WriteFile(cfg, []byte("natsListen: "+nd.natsAddr+"\n"), 0o644); err != nil {
			return nil, err
		}
		wg.Go(func() {
			nd.proc, errs[i] = harness.StartProc(harness.ProcSpec{
				Name: "hydrant " + nd.name, LogPath: filepath.Join(ws.Tmp, nd.name+".log"), Ready: "/_hydrant/health", Within: 2 * time.Minute,
				Argv: []string{ws.Hydrant, "serve", "--config", cfg, "--node", nd.name, "--listen", "{addr}", "--data-dir", nd.dataDir,
					"--cluster-listen", cluster[i], "--routes", strings.Join(routes, ","), "--object-store", "local",
					"--log-level", "warn", "--pprof-listen", "{addr2}"},
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			stopNodes(nodes)
			return nil, fmt.Errorf("start %s: %w", nodes[i].name, err)
		}
	}
	return nodes, nil
}

// stopNodes stops the started nodes at once (SIGTERM, each releases its leases).
func stopNodes(nodes []*node) {
	var wg sync.WaitGroup
	for _, nd := range nodes {
		if nd.proc != nil {
			wg.Go(nd.proc.Stop)
		}
	}
	wg.Wait()
}

// shardLeaders returns the leader of every journal shard (hydrant_shard_K), by K, as the
// JetStream API of nd's embedded server reports it.
func shardLeaders(ctx context.Context, nd *node) ([]string, error) {
	nc, err := nats.Connect("nats://"+nd.natsAddr, nats.Name("bench-cluster"))
	if err != nil {
		return nil, fmt.Errorf("connect to %s's nats: %w", nd.name, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	var leaders []string
	for k := 0; ; k++ {
		s, err := js.Stream(ctx, fmt.Sprintf("hydrant_shard_%d", k))
		if err != nil {
			if k > 0 && strings.Contains(err.Error(), "not found") {
				return leaders, nil
			}
			return nil, fmt.Errorf("stream info hydrant_shard_%d: %w", k, err)
		}
		info := s.CachedInfo()
		leader := "?"
		if info.Cluster != nil {
			leader = info.Cluster.Leader
		}
		leaders = append(leaders, leader)
	}
}

// shardOf is the journal's placement of a delivery stream on one of n shards
// (internal/journal shardOf: FNV-1a of the name modulo n).
func shardOf(name string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(n))
}

// pickStreams names count streams with prefix whose shards have different leaders where the
// leaders allow it (round-robin over the leaders seen otherwise).
func pickStreams(prefix string, count int, leaders []string) []string {
	var names []string
	used := map[string]bool{}
	for i := 0; len(names) < count && i < 10_000; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if l := leaders[shardOf(name, len(leaders))]; !used[l] {
			used[l] = true
			names = append(names, name)
		}
	}
	for i := 0; len(names) < count; i++ { // fewer distinct leaders than streams
		names = append(names, fmt.Sprintf("%s-x%d", prefix, i))
	}
	return names
}

// clusterOwners returns which node delivers which stream (GET /_hydrant/cluster).
func clusterOwners(ctx context.Context, url string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_hydrant/cluster", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Leases *struct {
			Owners map[string]string `json:"owners"`
		} `json:"leases"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode /_hydrant/cluster: %w", err)
	}
	if out.Leases == nil {
		return map[string]string{}, nil
	}
	return out.Leases.Owners, nil
}
