package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// cpu is the CPU time (user+system) the three processes of the benchmark, and every process
// on the machine, had used at a moment.
type cpu struct{ hydrant, minio, client, all time.Duration }

func (a cpu) sub(b cpu) cpu {
	return cpu{a.hydrant - b.hydrant, a.minio - b.minio, a.client - b.client, a.all - b.all}
}

// others is the CPU time of processes other than the benchmark's own.
func (a cpu) others() time.Duration { return max(a.all-a.hydrant-a.minio-a.client, 0) }

func cpuNow(h, m *harness.Proc) (cpu, error) {
	var c cpu
	var err error
	if c.hydrant, err = h.CPU(); err != nil {
		return c, err
	}
	if c.minio, err = m.CPU(); err != nil {
		return c, err
	}
	if c.client, err = harness.ProcCPU(os.Getpid()); err != nil {
		return c, err
	}
	c.all, err = harness.SystemCPU()
	return c, err
}

// delivered is what the objects of a bucket hold, verified record by record.
type delivered struct {
	objects int
	stored  int64 // object bytes as stored (compressed for GZIP)
	records int
	bytes   int64 // record bytes (decompressed)
}

// formatResult is the measurement of one CompressionFormat.
type formatResult struct {
	format types.CompressionFormat
	load   harness.LoadResult

	atEnd          delivered     // objects already complete when the load ended
	listTook       time.Duration // the listing at load end
	flushTook      time.Duration // load end → flush answered
	all            delivered     // after the flush
	cpuLoad        cpu           // during the load
	cpuTotal       cpu           // load start → flush answered
	natural        harness.LoadResult
	naturalTook    time.Duration // load end → every acknowledged byte in objects, no flush
	naturalBytes   int64         // record bytes in the natural bucket then
	naturalObjects int
	naturalAll     delivered // verified afterwards
	peakRSS        int64     // hydrant's VmHWM after the flush: the load's peak resident memory
}

func (r formatResult) gzip() bool { return r.format == types.CompressionFormatGzip }

// problems lists the ways the delivered objects differ from what was acknowledged.
func (r formatResult) problems() []string {
	var p []string
	if r.all.bytes != r.load.AckedBytes || r.all.records != r.load.AckedRecords {
		p = append(p, fmt.Sprintf("%s: %d records / %d bytes in objects, %d / %d acknowledged", r.format, r.all.records, r.all.bytes, r.load.AckedRecords, r.load.AckedBytes))
	}
	if r.natural.Elapsed > 0 && (r.naturalAll.bytes != r.natural.AckedBytes || r.naturalAll.records != r.natural.AckedRecords) {
		p = append(p, fmt.Sprintf("%s natural: %d records / %d bytes in objects, %d / %d acknowledged", r.format, r.naturalAll.records, r.naturalAll.bytes, r.natural.AckedRecords, r.natural.AckedBytes))
	}
	return p
}

// benchFormat starts MinIO on a fresh directory and hydrant on a fresh data dir pointed at it,
// and measures one format: the load with delivery running, the flush, the verification of
// every object, then the natural delivery of a shorter load on a second stream.
func benchFormat(ctx context.Context, o options, bin, dir string, format types.CompressionFormat, stdout io.Writer) (formatResult, error) {
	r := formatResult{format: format}
	m, err := startMinIO(ctx, o.minioBin, filepath.Join(dir, "minio"))
	if err != nil {
		return r, err
	}
	defer m.Close()
	suffix := strings.ToLower(string(format))
	bucket, naturalBucket := "bench-"+suffix, "natural-"+suffix
	for _, b := range []string{bucket, naturalBucket} {
		if err := m.CreateBucket(ctx, b); err != nil {
			return r, err
		}
	}
	argv := []string{bin, "serve", "--data-dir", filepath.Join(dir, "hydrant-data"), "--listen", "{addr}", "--log-level", "warn"}
	if o.profile != "" {
		argv = append(argv, "--pprof-listen", "{addr2}")
	}
	h, err := harness.StartProc(harness.ProcSpec{
		Name: "hydrant", LogPath: filepath.Join(dir, "hydrant.log"), Ready: "/_hydrant/health", Within: 30 * time.Second,
		Env: m.Env(), Argv: argv,
	})
	if err != nil {
		return r, err
	}
	defer h.Stop()
	c := harness.NewClient(h.URL, 2, true)
	stream := harness.StreamSpec{Name: "bench", Bucket: bucket, SizeMB: int32(o.sizeMB), IntervalS: int32(o.intervalS), Compression: format}
	if err := harness.CreateStream(ctx, c, stream); err != nil {
		return r, err
	}

	spec := harness.LoadSpec{
		URL: h.URL, Raw: true, Stream: stream.Name, Concurrency: o.concurrency, Records: o.records,
		RecordBytes: o.recordBytes, Duration: o.duration, Data: webLogRecord,
	}
	fmt.Fprintf(stdout, "%s: %d clients × PutRecordBatch(%d × %d B) for %v ...\n", format, spec.Concurrency, spec.Records, spec.RecordBytes, o.duration)
	c0, err := cpuNow(h, m.Proc)
	if err != nil {
		return r, err
	}
	var profiled chan error
	if o.profile != "" {
		profiled = make(chan error, 1)
		path := filepath.Join(o.profile, "hydrant-"+string(format)+".pprof")
		go func() { profiled <- cpuProfile(ctx, "http://"+h.Addr2, path, max(o.duration-time.Second, time.Second)) }()
		// Heap profiles in the middle of the load and at its end, with the runtime's memory
		// statistics (debug=1), to see what the process holds beyond the memory budget.
		for _, at := range []time.Duration{o.duration / 2, o.duration - time.Second} {
			heap := filepath.Join(o.profile, fmt.Sprintf("hydrant-%s-heap-%ds", format, int(at.Seconds())))
			go func() {
				select {
				case <-ctx.Done():
					return
				case <-time.After(at):
				}
				for _, q := range []string{"", "?debug=1"} {
					path := heap + map[string]string{"": ".pprof", "?debug=1": ".txt"}[q]
					if err := fetchTo(ctx, "http://"+h.Addr2+"/debug/pprof/heap"+q, path); err != nil {
						fmt.Fprintf(stdout, "heap profile: %v\n", err)
					}
				}
			}()
		}
	}
	r.load = harness.RunLoad(ctx, spec)
	if profiled != nil {
		if err := <-profiled; err != nil {
			return r, err
		}
	}
	c1, err := cpuNow(h, m.Proc)
	if err != nil {
		return r, err
	}
	atEnd, err := m.List(ctx, bucket)
	if err != nil {
		return r, err
	}
	r.listTook = time.Since(r.load.LoadEnded)
	if err := harness.Flush(ctx, h.URL, stream.Name); err != nil {
		return r, err
	}
	r.flushTook = time.Since(r.load.LoadEnded)
	c2, err := cpuNow(h, m.Proc)
	if err != nil {
		return r, err
	}
	r.cpuLoad, r.cpuTotal = c1.sub(c0), c2.sub(c0)
	if r.peakRSS, _, err = h.Memory(); err != nil {
		return r, err
	}
	fmt.Fprintf(stdout, "  ingest %.1f MB/s, %d objects complete at load end, flush done %v after the load; verifying ...\n",
		r.load.MBPerSec(), len(atEnd), r.flushTook.Round(time.Millisecond))

	complete := map[string]bool{}
	for _, obj := range atEnd {
		complete[obj.Key] = true
	}
	all, err := m.List(ctx, bucket)
	if err != nil {
		return r, err
	}
	for _, obj := range all {
		v, err := m.verify(ctx, bucket, obj.Key, r.gzip(), o.recordBytes)
		if err != nil {
			return r, err
		}
		r.all.add(obj, v)
		if complete[obj.Key] {
			r.atEnd.add(obj, v)
		}
	}
	fmt.Fprintf(stdout, "  %d objects, %d of %d acknowledged bytes\n", r.all.objects, r.all.bytes, r.load.AckedBytes)

	if o.naturalDuration <= 0 {
		return r, nil
	}
	stream.Name, stream.Bucket = "natural", naturalBucket
	if err := harness.CreateStream(ctx, c, stream); err != nil {
		return r, err
	}
	fmt.Fprintf(stdout, "%s: natural delivery: %v of load, then no flush (interval %ds) ...\n", format, o.naturalDuration, o.intervalS)
	spec.Stream, spec.Duration = stream.Name, o.naturalDuration
	r.natural = harness.RunLoad(ctx, spec)
	if err := r.awaitNatural(ctx, m, naturalBucket, time.Duration(o.intervalS)*time.Second+2*time.Minute); err != nil {
		return r, err
	}
	fmt.Fprintf(stdout, "  all delivered %v after the load\n", r.naturalTook.Round(time.Millisecond))
	objs, err := m.List(ctx, naturalBucket)
	if err != nil {
		return r, err
	}
	for _, obj := range objs {
		v, err := m.verify(ctx, naturalBucket, obj.Key, r.gzip(), o.recordBytes)
		if err != nil {
			return r, err
		}
		r.naturalAll.add(obj, v)
	}
	return r, nil
}

func (d *delivered) add(o harness.Object, v checked) {
	d.objects++
	d.stored += o.Size
	d.records += v.records
	d.bytes += v.bytes
}

// awaitNatural polls bucket until its objects hold every acknowledged byte of the natural
// load, or limit has passed since the load ended. A GZIP object's record bytes come from its
// trailer, so polling reads 4 bytes per object rather than decompressing it on the cores
// hydrant delivers with.
func (r *formatResult) awaitNatural(ctx context.Context, m *minio, bucket string, limit time.Duration) error {
	sizes := map[string]int64{}
	var n int64
	for {
		objs, err := m.List(ctx, bucket)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if _, ok := sizes[obj.Key]; ok {
				continue
			}
			size := obj.Size
			if r.gzip() {
				if size, err = m.gzipSize(ctx, bucket, obj.Key); err != nil {
					return err
				}
			}
			sizes[obj.Key] = size
			n += size
		}
		if n >= r.natural.AckedBytes {
			r.naturalTook, r.naturalBytes, r.naturalObjects = time.Since(r.natural.LoadEnded), n, len(sizes)
			return nil
		}
		if time.Since(r.natural.LoadEnded) > limit {
			return fmt.Errorf("natural delivery: %d of %d bytes after %v", n, r.natural.AckedBytes, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cpuProfile saves a CPU profile of d taken from the pprof server at url to path.
func cpuProfile(ctx context.Context, url, path string, d time.Duration) error {
	return fetchTo(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", url, int(d.Seconds())), path)
}

// fetchTo saves what a GET of url answers to path.
func fetchTo(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("get %s: %w", url, err)
	}
	return f.Close()
}
