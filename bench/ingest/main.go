// Command ingest measures PutRecordBatch ingestion with durable acknowledgement on Hydrant
// (the built binary on a fresh data dir, delivery running concurrently) and on moto's
// Firehose, with the same aws-sdk-go-v2 client code and concurrency; then single-record
// PutRecord calls from many SDK clients to one stream (group commit) next to the disk's own
// fsync rate measured in the same run; and appends the numbers to bench/RESULTS.md.
//
//	go run ./bench/ingest                       # 30 s Hydrant, 10 s moto
//	go run ./bench/ingest -duration 5s -moto-duration 3s -natural-duration 2s -results ''
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

type options struct {
	metricsDuration                         time.Duration
	duration, motoDuration, naturalDuration time.Duration
	concurrency, records, recordBytes       int
	sizeMB, intervalS                       int
	hydrantBin, motoBin, results            string
	skipMoto, sign, sdk                     bool
	singleDuration                          time.Duration
	singleCallers, singleBytes              int
	profileDir                              string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "Hydrant load duration")
	flag.DurationVar(&o.motoDuration, "moto-duration", 10*time.Second, "moto load duration (moto is slow and keeps every object in memory)")
	flag.DurationVar(&o.naturalDuration, "natural-duration", 10*time.Second, "load before the natural (no flush) delivery measurement; 0 skips it")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients")
	flag.IntVar(&o.records, "records", 500, "records per PutRecordBatch")
	flag.IntVar(&o.recordBytes, "record-bytes", 1024, "bytes per record")
	flag.IntVar(&o.sizeMB, "size-mb", 64, "BufferingHints.SizeInMBs of the Hydrant streams")
	flag.IntVar(&o.intervalS, "interval", 60, "BufferingHints.IntervalInSeconds of the Hydrant streams")
	flag.StringVar(&o.hydrantBin, "hydrant-bin", "", "hydrant binary (default: build ./cmd/hydrant)")
	flag.StringVar(&o.motoBin, "moto-bin", "moto_server", "moto server command")
	flag.StringVar(&o.results, "results", "bench/RESULTS.md", "append a dated section here (relative to the module root); empty: print only")
	flag.BoolVar(&o.skipMoto, "skip-moto", false, "measure Hydrant only")
	flag.DurationVar(&o.metricsDuration, "metrics-duration", 10*time.Second, "each of the four alternating loads (metrics on, off, on, off) measuring the cost of metrics; 0 skips it")
	flag.BoolVar(&o.sdk, "sdk", false, "send the load with aws-sdk-go-v2 (encodes every call in the co-located client) instead of pre-encoded bodies")
	flag.BoolVar(&o.sign, "sign-payload", false, "sign the SHA-256 of every body instead of UNSIGNED-PAYLOAD (costs the co-located client CPU)")
	flag.DurationVar(&o.singleDuration, "single-duration", 10*time.Second, "single-record PutRecord load (group commit) on a fresh server, after the disk's fsync rate; 0 skips it")
	flag.IntVar(&o.singleCallers, "single-callers", 64, "concurrent PutRecord callers of the single-record load")
	flag.IntVar(&o.singleBytes, "single-bytes", 100, "bytes per record of the single-record load")
	flag.StringVar(&o.profileDir, "profile-dir", "", "save CPU profiles of the server during the PutRecordBatch and PutRecord loads here (putrecordbatch.pprof, putrecord.pprof)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

// hydrantResult is the Hydrant side of the report.
type hydrantResult struct {
	load             harness.LoadResult
	deliveredAtEnd   int64         // bytes in objects when the load ended (delivery ran concurrently)
	objectsAtEnd     int           // objects written during the load
	flushTook        time.Duration // load end → flush answered, every acknowledged byte in objects
	delivered        int64         // bytes in objects after the flush
	natural          harness.LoadResult
	naturalTook      time.Duration // load end → every acknowledged byte in objects, no flush
	naturalDelivered int64
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	ws, err := harness.Prepare("hydrant-bench-", o.hydrantBin, stdout)
	if err != nil {
		return err
	}
	defer ws.Close()
	root, tmp, bin := ws.Root, ws.Tmp, ws.Hydrant
	spec := harness.LoadSpec{Concurrency: o.concurrency, Records: o.records, RecordBytes: o.recordBytes, Sign: o.sign, Raw: !o.sdk}

	h, err := benchHydrant(ctx, o, bin, tmp, spec, stdout)
	if err != nil {
		return err
	}
	var single *singleResult
	if o.singleDuration > 0 {
		r, err := benchSingle(ctx, o, bin, tmp, stdout)
		if err != nil {
			return err
		}
		single = &r
	}
	var cost *metricsCost
	if o.metricsDuration > 0 {
		c, err := benchMetricsCost(ctx, o, bin, tmp, spec, stdout)
		if err != nil {
			return err
		}
		cost = &c
	}
	var moto *harness.LoadResult
	if !o.skipMoto {
		m, err := benchMoto(ctx, o, tmp, spec, stdout)
		if err != nil {
			return err
		}
		moto = &m
	}

	report := render(o, h, moto, systemInfo(ws.Info))
	if single != nil {
		report += single.render()
	}
	if cost != nil {
		report += cost.render()
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, report)
	if o.results == "" {
		return nil
	}
	p := o.results
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	header := "# Ingest benchmark results\n\nAppended by `bench/run.sh` (`go run ./bench/ingest`); newest last.\n"
	if err := harness.AppendResults(p, header, report); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nappended to %s\n", p)
	return nil
}

func benchHydrant(ctx context.Context, o options, bin, tmp string, spec harness.LoadSpec, stdout io.Writer) (hydrantResult, error) {
	var h hydrantResult
	dataDir := filepath.Join(tmp, "hydrant-data")
	logPath := filepath.Join(tmp, "hydrant.log")
	argv := []string{bin, "serve", "--data-dir", dataDir, "--listen", "{addr}", "--log-level", "warn"}
	if o.profileDir != "" {
		argv = append(argv, "--pprof-listen", "{addr2}")
	}
	p, err := harness.StartProc(harness.ProcSpec{Name: "hydrant", LogPath: logPath, Ready: "/_hydrant/health", Within: 30 * time.Second, Argv: argv})
	if err != nil {
		return h, err
	}
	defer p.Stop()
	c := harness.NewClient(p.URL, 2, true)
	size, interval := int32(o.sizeMB), int32(o.intervalS)
	if err := harness.CreateStream(ctx, c, harness.StreamSpec{Name: "bench", Bucket: "bench", SizeMB: size, IntervalS: interval}); err != nil {
		return h, err
	}

	fmt.Fprintf(stdout, "hydrant: %d clients × PutRecordBatch(%d × %d B) for %v ...\n", spec.Concurrency, spec.Records, spec.RecordBytes, o.duration)
	spec.URL, spec.Stream, spec.Duration = p.URL, "bench", o.duration
	prof := startProfile(o, p, "putrecordbatch", o.duration)
	h.load = harness.RunLoad(ctx, spec)
	if err := prof(); err != nil {
		fmt.Fprintf(stdout, "  profile: %v\n", err)
	}
	h.deliveredAtEnd, h.objectsAtEnd, _ = deliveredBytes(dataDir, "bench")
	if err := harness.Flush(ctx, p.URL, "bench"); err != nil {
		return h, err
	}
	h.flushTook = time.Since(h.load.LoadEnded)
	if h.delivered, _, err = deliveredBytes(dataDir, "bench"); err != nil {
		return h, err
	}
	if h.delivered < h.load.AckedBytes {
		return h, fmt.Errorf("after flush %d bytes delivered, %d acknowledged: acknowledged records missing", h.delivered, h.load.AckedBytes)
	}
	fmt.Fprintf(stdout, "  %.0f records/s, %.1f MB/s, flush done %v after the load\n", h.load.RecordsPerSec(), h.load.MBPerSec(), h.flushTook.Round(time.Millisecond))

	if o.naturalDuration > 0 {
		if err := harness.CreateStream(ctx, c, harness.StreamSpec{Name: "natural", Bucket: "natural", SizeMB: size, IntervalS: interval}); err != nil {
			return h, err
		}
		fmt.Fprintf(stdout, "hydrant: natural delivery: %v of load, then no flush (interval %ds) ...\n", o.naturalDuration, o.intervalS)
		spec.Stream, spec.Duration = "natural", o.naturalDuration
		h.natural = harness.RunLoad(ctx, spec)
		limit := time.Duration(o.intervalS)*time.Second + 2*time.Minute
		for {
			n, _, err := deliveredBytes(dataDir, "natural")
			if err != nil {
				return h, err
			}
			if n >= h.natural.AckedBytes {
				h.naturalTook, h.naturalDelivered = time.Since(h.natural.LoadEnded), n
				break
			}
			if time.Since(h.natural.LoadEnded) > limit || ctx.Err() != nil {
				return h, fmt.Errorf("natural delivery: %d of %d bytes after %v", n, h.natural.AckedBytes, limit)
			}
			time.Sleep(100 * time.Millisecond)
		}
		fmt.Fprintf(stdout, "  all delivered %v after the load\n", h.naturalTook.Round(time.Millisecond))
	}
	return h, nil
}

func benchMoto(ctx context.Context, o options, tmp string, spec harness.LoadSpec, stdout io.Writer) (harness.LoadResult, error) {
	// A cold moto start (Python imports) can take tens of seconds.
	p, err := harness.StartProc(harness.ProcSpec{Name: "moto", LogPath: filepath.Join(tmp, "moto.log"), Ready: "/moto-api/", Within: 2 * time.Minute,
		Argv: []string{o.motoBin, "-H", "{host}", "-p", "{port}"}})
	if err != nil {
		return harness.LoadResult{}, err
	}
	defer p.Stop()
	if err := createMotoBucket(ctx, p.URL, "bench"); err != nil {
		return harness.LoadResult{}, err
	}
	if err := harness.CreateStream(ctx, harness.NewClient(p.URL, 2, true), harness.StreamSpec{Name: "bench", Bucket: "bench", SizeMB: int32(o.sizeMB), IntervalS: int32(o.intervalS)}); err != nil {
		return harness.LoadResult{}, err
	}
	fmt.Fprintf(stdout, "moto: %d clients × PutRecordBatch(%d × %d B) for %v ...\n", spec.Concurrency, spec.Records, spec.RecordBytes, o.motoDuration)
	spec.URL, spec.Stream, spec.Duration = p.URL, "bench", o.motoDuration
	r := harness.RunLoad(ctx, spec)
	fmt.Fprintf(stdout, "  %.0f records/s, %.1f MB/s\n", r.RecordsPerSec(), r.MBPerSec())
	return r, nil
}

// sysInfo is the machine, the code and moto's version.
type sysInfo struct {
	harness.SysInfo
	moto string
}

func systemInfo(si harness.SysInfo) sysInfo {
	s := sysInfo{SysInfo: si, moto: "unknown"}
	if out, err := exec.Command("python3", "-c", "import moto; print(moto.__version__)").Output(); err == nil {
		s.moto = strings.TrimSpace(string(out))
	}
	return s
}

func render(o options, h hydrantResult, moto *harness.LoadResult, si sysInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s — ingest\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- host: `nproc` %s, CPU %s, %s; client and servers share the machine\n", si.NProc, si.CPU, si.GoVersion)
	fmt.Fprintf(&b, "- hydrant revision %s; moto %s\n", si.Rev, si.moto)
	client := "pre-encoded PutRecordBatch bodies over HTTP (one body per client, encoded once; -sdk for aws-sdk-go-v2)"
	if o.sdk {
		client = "aws-sdk-go-v2 PutRecordBatch (SigV4 over " + map[bool]string{true: "the body's SHA-256", false: "UNSIGNED-PAYLOAD"}[o.sign] + "), SDK retries off"
	}
	fmt.Fprintf(&b, "- load: %s, %d records × %d B, %d concurrent clients; "+
		"Hydrant %v (stream SizeInMBs %d, IntervalInSeconds %d, delivery to the local directory running during the load), moto %s\n",
		client, o.records, o.recordBytes, o.concurrency, o.duration, o.sizeMB, o.intervalS, durOr(moto != nil, o.motoDuration))
	fmt.Fprintf(&b, "- MB = 10^6 bytes of record data (decoded); latency of calls answered 200 with FailedPutCount 0\n\n")

	fmt.Fprintln(&b, "| target | load | calls ok / failed / partial | records acked | records/s | MB/s | p50 | p99 | max |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|")
	row := func(name string, r harness.LoadResult) {
		fmt.Fprintf(&b, "| %s | %v | %d / %d / %d | %d | %.0f | %.1f | %v | %v | %v |\n", name, r.Elapsed.Round(time.Millisecond),
			r.OKCalls, r.FailedCalls, r.PartialCalls, r.AckedRecords, r.RecordsPerSec(), r.MBPerSec(),
			ms(r.Percentile(0.50)), ms(r.Percentile(0.99)), ms(r.Percentile(1)))
	}
	row("Hydrant", h.load)
	if moto != nil {
		row("moto", *moto)
	}

	fmt.Fprintln(&b)
	if moto != nil && moto.RecordsPerSec() > 0 {
		fmt.Fprintf(&b, "- ratio Hydrant / moto: %.2f× records/s (%.0f / %.0f)\n", h.load.RecordsPerSec()/moto.RecordsPerSec(), h.load.RecordsPerSec(), moto.RecordsPerSec())
	}
	fmt.Fprintf(&b, "- Hydrant delivery during the load: %d objects, %.1f MB of %.1f MB acknowledged (%.0f%%) already in objects when the load ended\n",
		h.objectsAtEnd, float64(h.deliveredAtEnd)/1e6, float64(h.load.AckedBytes)/1e6, 100*float64(h.deliveredAtEnd)/float64(max(h.load.AckedBytes, 1)))
	fmt.Fprintf(&b, "- Hydrant end to end with flush: every acknowledged record in objects %v after the load ended (%d bytes delivered, %d acknowledged)\n",
		ms(h.flushTook), h.delivered, h.load.AckedBytes)
	if h.natural.Elapsed > 0 {
		fmt.Fprintf(&b, "- Hydrant end to end without flush (a separate %v load of %.1f MB on a fresh stream, same hints): every acknowledged record in objects %v after the load ended\n",
			h.natural.Elapsed.Round(time.Millisecond), float64(h.natural.AckedBytes)/1e6, ms(h.naturalTook))
	}
	if moto != nil {
		fmt.Fprintf(&b, "- moto writes one S3 object per call inside the call (no buffering), so its end to end time is its put latency\n")
	}
	for _, r := range []struct {
		name string
		r    *harness.LoadResult
	}{{"Hydrant", &h.load}, {"moto", moto}} {
		if r.r != nil && r.r.FirstErr != nil {
			fmt.Fprintf(&b, "- %s call errors %v; first: %v\n", r.name, r.r.ErrorsByClass, r.r.FirstErr)
		}
	}
	return b.String()
}

func durOr(ok bool, d time.Duration) string {
	if !ok {
		return "skipped"
	}
	return d.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// metricsCost compares the ingest rate with metrics recorded and with --metrics-off, over
// alternating loads on fresh servers so that drift of the shared machine falls on both.
type metricsCost struct {
	on, off       []float64 // MB/s of each load
	duration      time.Duration
	onAvg, offAvg float64
}

func benchMetricsCost(ctx context.Context, o options, bin, tmp string, spec harness.LoadSpec, stdout io.Writer) (metricsCost, error) {
	c := metricsCost{duration: o.metricsDuration}
	for i := 0; i < 4; i++ {
		off := i%2 == 1
		argv := []string{bin, "serve", "--data-dir", filepath.Join(tmp, fmt.Sprintf("metrics-cost-%d", i)), "--listen", "{addr}", "--log-level", "warn"}
		if off {
			argv = append(argv, "--metrics-off")
		}
		p, err := harness.StartProc(harness.ProcSpec{Name: "hydrant", LogPath: filepath.Join(tmp, fmt.Sprintf("metrics-cost-%d.log", i)),
			Ready: "/_hydrant/health", Within: 30 * time.Second, Argv: argv})
		if err != nil {
			return c, err
		}
		cl := harness.NewClient(p.URL, 2, true)
		if err := harness.CreateStream(ctx, cl, harness.StreamSpec{Name: "cost", Bucket: "cost", SizeMB: int32(o.sizeMB), IntervalS: int32(o.intervalS)}); err != nil {
			p.Stop()
			return c, err
		}
		s := spec
		s.URL, s.Stream, s.Duration = p.URL, "cost", o.metricsDuration
		r := harness.RunLoad(ctx, s)
		p.Stop()
		mode := "on"
		if off {
			mode = "off"
			c.off = append(c.off, r.MBPerSec())
		} else {
			c.on = append(c.on, r.MBPerSec())
		}
		fmt.Fprintf(stdout, "hydrant, metrics %s: %.1f MB/s\n", mode, r.MBPerSec())
	}
	for _, v := range c.on {
		c.onAvg += v / float64(len(c.on))
	}
	for _, v := range c.off {
		c.offAvg += v / float64(len(c.off))
	}
	return c, nil
}

func (c metricsCost) render() string {
	return fmt.Sprintf("- cost of metrics on the put path: four alternating %v loads on fresh servers, metrics on %.1f and %.1f MB/s, off %.1f and %.1f MB/s: on/off = %.3f (%.1f%% %s)\n",
		c.duration, c.on[0], c.on[1], c.off[0], c.off[1], c.onAvg/c.offAvg, 100*abs(1-c.onAvg/c.offAvg), map[bool]string{true: "slower with metrics", false: "faster with metrics: noise"}[c.onAvg < c.offAvg])
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
