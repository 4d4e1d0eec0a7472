// Command streams measures Hydrant with many delivery streams: N streams created while puts run
// on a few of them (creation latency, failures, peak resident memory), the idle memory once
// they are quiet, and a restart with all of them (time to the first acknowledged put, memory).
// It appends a dated section to bench/RESULTS.md. Run it with bench/run-streams.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

func main() {
	streams := flag.Int("streams", 5000, "delivery streams to create, the load's included")
	loaded := flag.Int("loaded", 4, "streams under put load while the others are created")
	creators := flag.Int("creators", 8, "concurrent CreateDeliveryStream callers")
	idle := flag.Duration("idle", 20*time.Second, "quiet time before the idle memory is read")
	bin := flag.String("bin", "", "hydrant binary (default: build ./cmd/hydrant)")
	results := flag.String("results", "bench/RESULTS.md", "results file to append to ('' for none)")
	keep := flag.Bool("keep", false, "keep the data directory and the server logs, with heap and goroutine profiles of the server taken after creation")
	flag.Parse()
	if err := run(*streams, *loaded, *creators, *idle, *bin, *results, *keep); err != nil {
		log.Fatal(err)
	}
}

type phase struct {
	peakRSS, idleRSS int64
}

func run(n, loaded, creators int, idle time.Duration, bin, results string, keep bool) error {
	ws, err := harness.Prepare("hydrant-bench-streams-", bin, os.Stdout)
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("keeping", ws.Tmp)
	} else {
		defer ws.Close()
	}
	data := filepath.Join(ws.Tmp, "data")
	spec := harness.ProcSpec{
		Name: "hydrant", Ready: "/_hydrant/health", Within: 2 * time.Minute,
		Argv: []string{ws.Hydrant, "serve", "--listen", "{addr}", "--data-dir", data, "--log-level", "warn"},
	}
	if keep {
		spec.Argv = append(spec.Argv, "--pprof-listen", "{addr2}")
	}
	ctx := context.Background()

	// Phase 1: create n streams while loaded ones take puts.
	spec.LogPath = filepath.Join(ws.Tmp, "hydrant-1.log")
	p, err := harness.StartProc(spec)
	if err != nil {
		return err
	}
	c := harness.NewClient(p.URL, creators+loaded+4, false)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("stream-%05d", i)
	}
	for _, name := range names[:loaded] {
		if err := harness.CreateStream(ctx, c, harness.StreamSpec{Name: name, Bucket: "bench", SizeMB: 64, IntervalS: 60}); err != nil {
			p.Stop()
			return err
		}
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var puts, putFails atomic.Int64
	var lw sync.WaitGroup
	for _, name := range names[:loaded] {
		lw.Go(func() { putLoop(loadCtx, c, name, &puts, &putFails) })
	}
	var peak atomic.Int64
	sampleCtx, stopSample := context.WithCancel(ctx)
	defer stopSample()
	sampled := make(chan struct{})
	go func() { defer close(sampled); sample(sampleCtx, p, &peak) }()

	start := time.Now()
	var mu sync.Mutex
	var lat []time.Duration
	var fails []string
	next := atomic.Int64{}
	next.Store(int64(loaded))
	var cw sync.WaitGroup
	for range creators {
		cw.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				err := harness.CreateStream(ctx, c, harness.StreamSpec{Name: names[i], Bucket: "bench", SizeMB: 5, IntervalS: 300})
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if err != nil && len(fails) < 5 {
					fails = append(fails, err.Error())
				}
				if err != nil {
					lat = lat[:len(lat)-1]
				}
				mu.Unlock()
			}
		})
	}
	cw.Wait()
	created := time.Since(start)
	stopLoad()
	lw.Wait()
	for _, name := range names[:loaded] { // the load's buffers are not what idle streams cost
		if err := harness.Flush(ctx, p.URL, name); err != nil {
			return err
		}
	}
	time.Sleep(idle)
	stopSample()
	<-sampled
	_, idleRSS, err := p.Memory()
	if err != nil {
		return err
	}
	if keep {
		for _, prof := range []string{"heap", "goroutine"} {
			if err := harness.SaveProfile(ctx, "http://"+p.Addr2+"/debug/pprof/"+prof, filepath.Join(ws.Tmp, prof+".pprof")); err != nil {
				return err
			}
		}
	}
	p1 := phase{peakRSS: peak.Load(), idleRSS: idleRSS}
	p.Stop()

	// Phase 2: restart with every stream; time to the first acknowledged put.
	spec.LogPath = filepath.Join(ws.Tmp, "hydrant-2.log")
	t0 := time.Now()
	p, err = harness.StartProc(spec)
	if err != nil {
		return err
	}
	defer p.Stop()
	c = harness.NewClient(p.URL, 4, false)
	var firstPut time.Duration
	for {
		_, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String(names[n-1]), Record: &types.Record{Data: []byte("after restart\n")}})
		if err == nil {
			firstPut = time.Since(t0)
			break
		}
		if time.Since(t0) > 2*time.Minute {
			return fmt.Errorf("no put acknowledged within 2 minutes of the restart: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(idle)
	peak2, idle2, err := p.Memory()
	if err != nil {
		return err
	}

	slices.Sort(lat)
	pct := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(q*float64(len(lat))))]
	}
	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	var b strings.Builder
	fmt.Fprintf(&b, "## %s — %d streams\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), n)
	fmt.Fprintf(&b, "- host: `nproc` %s, CPU %s, %s; client and server share the machine\n", ws.Info.NProc, ws.Info.CPU, ws.Info.GoVersion)
	fmt.Fprintf(&b, "- hydrant revision %s; run with `bench/run-streams.sh`\n", ws.Info.Rev)
	fmt.Fprintf(&b, "- %d streams created by %d concurrent callers (CreateDeliveryStream, then DescribeDeliveryStream until ACTIVE), while %d of them took PutRecordBatch of 100 × 1 KiB in a loop; idle memory read after %s without load\n\n", n, creators, loaded, idle)
	fmt.Fprintf(&b, "| measure | result | aim |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| streams created | %d of %d in %.1f s | all, ≤ 120 s |\n", len(lat)+loaded, n, created.Seconds())
	fmt.Fprintf(&b, "| create until ACTIVE, p50 / p99 / max | %v / %v / %v | no timeout |\n", pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	fmt.Fprintf(&b, "| puts during creation: acknowledged / failed | %d / %d | – |\n", puts.Load(), putFails.Load())
	fmt.Fprintf(&b, "| peak resident memory while creating | %s | ≤ 1024 MiB |\n", mib(p1.peakRSS))
	fmt.Fprintf(&b, "| resident memory, idle | %s (%.1f KiB per stream) | ≤ 512 MiB |\n", mib(p1.idleRSS), float64(p1.idleRSS)/1024/float64(n))
	fmt.Fprintf(&b, "| restart: first put acknowledged after | %.2f s | ≤ 5 s |\n", firstPut.Seconds())
	fmt.Fprintf(&b, "| after restart: peak / idle resident memory | %s / %s | idle ≤ 512 MiB |\n", mib(peak2), mib(idle2))
	for _, f := range fails {
		fmt.Fprintf(&b, "\n- failure: %s", f)
	}
	fmt.Fprintln(&b)
	fmt.Print(b.String())
	if results == "" {
		return nil
	}
	return harness.AppendResults(filepath.Join(ws.Root, results), "# Benchmark results\n", b.String())
}

// putLoop puts 100 × 1 KiB batches to name until ctx ends.
func putLoop(ctx context.Context, c *firehose.Client, name string, ok, failed *atomic.Int64) {
	recs := make([]types.Record, 100)
	for i := range recs {
		recs[i] = types.Record{Data: harness.FillerRecord(0, i, 1024)}
	}
	for ctx.Err() == nil {
		out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(name), Records: recs})
		if err != nil || aws.ToInt32(out.FailedPutCount) > 0 {
			if ctx.Err() == nil {
				failed.Add(1)
			}
			continue
		}
		ok.Add(1)
	}
}

// sample keeps the highest resident memory of p seen every 100 ms.
func sample(ctx context.Context, p *harness.Proc, peak *atomic.Int64) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if _, cur, err := p.Memory(); err == nil && cur > peak.Load() {
			peak.Store(cur)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
