package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// stream is one delivery stream of a configuration: its journal shard, that shard's leader
// before and after the load, and the node that delivers it.
type stream struct {
	name                      string
	shard                     int
	leaderBefore, leaderAfter string
	owner                     string
}

// measured is one configuration's result.
type measured struct {
	name       string
	nodes      []string
	streams    []stream
	load       harness.LoadResult
	cpu        []time.Duration // per node, during the load
	client     time.Duration   // this process (the clients), during the load
	flushTook  time.Duration   // load end → every stream's flush answered
	delivered  int64           // bytes in objects after the flushes, all nodes
	flushErr   error
	perNodeReq []int                // calls sent to each node
	perNode    []harness.LoadResult // the clients of each node, merged
}

// cpuPerGB is CPU seconds per 10^9 acknowledged bytes.
func (m measured) cpuPerGB(d time.Duration) float64 {
	if m.load.AckedBytes == 0 {
		return 0
	}
	return d.Seconds() / (float64(m.load.AckedBytes) / 1e9)
}

func (m measured) totalCPU() time.Duration {
	var t time.Duration
	for _, c := range m.cpu {
		t += c
	}
	return t
}

// benchSingle measures one node with one stream and with three.
func benchSingle(ctx context.Context, o options, ws *harness.Workspace, stdout io.Writer) ([]measured, error) {
	nodes, err := startSingle(ws)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	var out []measured
	for _, n := range []int{1, 3} {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("single%d-%d", n, i)
		}
		m, err := measure(ctx, o, nodes, fmt.Sprintf("single-%dstream", n), names, nil, false, stdout)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// benchCluster measures the 3-node cluster with one stream and with three, the three placed on
// journal shards with different leaders.
func benchCluster(ctx context.Context, o options, ws *harness.Workspace, stdout io.Writer) ([]measured, error) {
	t0 := time.Now()
	nodes, err := startCluster(ws)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	fmt.Fprintf(stdout, "cluster: 3 nodes ready in %v\n", time.Since(t0).Round(100*time.Millisecond))
	leaders, err := shardLeaders(ctx, nodes[0])
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "cluster: journal shard leaders %v\n", leaders)
	var out []measured
	for _, c := range []struct {
		name    string
		streams int
		pinned  bool
	}{{"cluster-1stream", 1, false}, {"cluster-3stream", 3, false}, {"cluster-3stream-pinned", 3, true}} {
		names := pickStreams(strings.ReplaceAll(c.name, "-", ""), c.streams, leaders)
		m, err := measure(ctx, o, nodes, c.name, names, leaders, c.pinned, stdout)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// measure creates the streams (bucket named after the configuration), runs the load from
// o.concurrency clients, client g on node g mod len(nodes) and stream (g + g/len(nodes)) mod
// len(streams) (pinned: stream g mod len(streams), so each stream takes puts on one node
// only and no two nodes append to one journal subject), then flushes every stream through a node other than its first client's and
// sums the bytes in objects.
func measure(ctx context.Context, o options, nodes []*node, name string, names []string, leaders []string, pinned bool, stdout io.Writer) (measured, error) {
	m := measured{name: name, cpu: make([]time.Duration, len(nodes)), perNodeReq: make([]int, len(nodes))}
	for _, nd := range nodes {
		m.nodes = append(m.nodes, nd.name)
	}
	bucket := "bench-" + name
	admin := harness.NewClient(nodes[0].proc.URL, 4, false)
	for _, s := range names {
		if err := harness.CreateStream(ctx, admin, harness.StreamSpec{Name: s, Bucket: bucket, SizeMB: int32(o.sizeMB), IntervalS: int32(o.intervalS)}); err != nil {
			return m, err
		}
		st := stream{name: s, shard: -1}
		if leaders != nil {
			st.shard = shardOf(s, len(leaders))
			st.leaderBefore = leaders[st.shard]
		}
		m.streams = append(m.streams, st)
	}
	time.Sleep(o.settleTime) // leases taken, delivery workers started

	type group struct {
		node int
		spec harness.LoadSpec
	}
	callsPerClient := max(o.maxRecords/o.records/o.concurrency, 1)
	var groups []group
	for g := range o.concurrency {
		ni := g % len(nodes)
		si := (g + g/len(nodes)) % len(names)
		if pinned {
			si = g % len(names)
		}
		groups = append(groups, group{node: ni, spec: harness.LoadSpec{
			URL: nodes[ni].proc.URL, Stream: names[si], Concurrency: 1, Records: o.records, RecordBytes: o.recordBytes,
			Duration: o.duration, Calls: callsPerClient,
			Data: func(_, i, size int) []byte { return harness.FillerRecord(g, i, size) },
		}})
	}

	cpu0 := make([]time.Duration, len(nodes))
	for i, nd := range nodes {
		c, err := nd.proc.CPU()
		if err != nil {
			return m, err
		}
		cpu0[i] = c
	}
	self0, err := harness.ProcCPU(os.Getpid())
	if err != nil {
		return m, err
	}
	var profiles sync.WaitGroup
	if o.profileDir != "" {
		secs := max(int(o.duration.Seconds())-1, 1)
		for _, nd := range nodes {
			profiles.Go(func() {
				p := filepath.Join(o.profileDir, name+"-"+nd.name+".pprof")
				if err := harness.SaveProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", nd.proc.Addr2, secs), p); err != nil {
					fmt.Fprintf(stdout, "profile %s: %v\n", nd.name, err)
				}
			})
		}
	}
	fmt.Fprintf(stdout, "%s: %d clients over %d node(s), streams %v, %v ...\n", name, o.concurrency, len(nodes), names, o.duration)
	results := make([]harness.LoadResult, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() { results[i] = harness.RunLoad(ctx, g.spec) })
	}
	wg.Wait()
	for i, nd := range nodes {
		c, err := nd.proc.CPU()
		if err != nil {
			return m, err
		}
		m.cpu[i] = c - cpu0[i]
	}
	self1, err := harness.ProcCPU(os.Getpid())
	if err != nil {
		return m, err
	}
	m.client = self1 - self0
	m.load = merge(results)
	for ni := range nodes {
		var rs []harness.LoadResult
		for i, g := range groups {
			if g.node == ni {
				rs = append(rs, results[i])
				m.perNodeReq[ni] += results[i].OKCalls + results[i].FailedCalls + results[i].PartialCalls
			}
		}
		m.perNode = append(m.perNode, merge(rs))
	}
	profiles.Wait()

	// Every stream's flush, at once, each through a node that is not the first to take its load.
	// A flush that does not answer within o.flushWait is reported, not waited for.
	fctx, cancel := context.WithTimeout(ctx, o.flushWait)
	defer cancel()
	var fw sync.WaitGroup
	ferrs := make([]error, len(names))
	for i, s := range names {
		via := nodes[(i+1)%len(nodes)]
		fw.Go(func() { ferrs[i] = harness.Flush(fctx, via.proc.URL, s) })
	}
	fw.Wait()
	m.flushTook = time.Since(m.load.LoadEnded)
	for _, err := range ferrs {
		if err != nil && m.flushErr == nil {
			m.flushErr = err
		}
	}
	for _, nd := range nodes {
		if err := harness.WalkObjects(nd.dataDir, bucket, func(_, _ string, size int64) error {
			m.delivered += size
			return nil
		}); err != nil {
			return m, err
		}
	}
	if leaders != nil {
		owners, err := clusterOwners(ctx, nodes[0].proc.URL)
		if err != nil {
			return m, err
		}
		after, err := shardLeaders(ctx, nodes[0])
		if err != nil {
			return m, err
		}
		for i := range m.streams {
			m.streams[i].owner = owners[m.streams[i].name]
			m.streams[i].leaderAfter = after[m.streams[i].shard]
		}
	}
	l := m.load
	fmt.Fprintf(stdout, "%s: %.0f records/s, %.1f MB/s, p50 %v p99 %v, calls ok/failed/partial %d/%d/%d %v, hydrant CPU %.1f s/GB, flush %v, %d of %d bytes in objects\n",
		name, l.RecordsPerSec(), l.MBPerSec(), l.Percentile(0.5).Round(time.Millisecond), l.Percentile(0.99).Round(time.Millisecond),
		l.OKCalls, l.FailedCalls, l.PartialCalls, l.ErrorsByClass, m.cpuPerGB(m.totalCPU()), m.flushTook.Round(time.Millisecond), m.delivered, l.AckedBytes)
	if m.flushErr != nil {
		fmt.Fprintf(stdout, "%s: flush: %v\n", name, m.flushErr)
	}
	time.Sleep(o.settleTime)
	return m, nil
}

// merge adds up loads that ran side by side: counts are summed, latencies pooled, and the
// elapsed time runs from the first start to the last end.
func merge(rs []harness.LoadResult) harness.LoadResult {
	var out harness.LoadResult
	out.ErrorsByClass = map[string]int{}
	for i, r := range rs {
		if i == 0 || r.Start.Before(out.Start) {
			out.Start = r.Start
		}
		if r.LoadEnded.After(out.LoadEnded) {
			out.LoadEnded = r.LoadEnded
		}
		out.OKCalls += r.OKCalls
		out.FailedCalls += r.FailedCalls
		out.PartialCalls += r.PartialCalls
		out.AckedRecords += r.AckedRecords
		out.AckedBytes += r.AckedBytes
		out.Latencies = append(out.Latencies, r.Latencies...)
		if out.FirstErr == nil {
			out.FirstErr = r.FirstErr
		}
		for k, v := range r.ErrorsByClass {
			out.ErrorsByClass[k] += v
		}
	}
	out.Elapsed = out.LoadEnded.Sub(out.Start)
	slices.Sort(out.Latencies)
	return out
}
