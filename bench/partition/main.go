// Command partition measures dynamic partitioning by JQ on the built hydrant binary, in one
// run and three phases, each on a fresh server and data directory:
//
//  1. plain: the pre-encoded PutRecordBatch load of bench/ingest, with 1 KiB JSON records
//     that carry a customer_id, into a stream without processing or partitioning;
//  2. jq: the same load into a stream that partitions by
//     MetadataExtractionQuery {customer_id:.customer_id} over exactly -customers customers,
//     maxActivePartitions as many; its delivery is compared with plain's and every delivered
//     record is checked to sit in its customer's partition;
//  3. memory: -mem-customers active partitions that never flush by size or time, filled
//     with -mem-mb of records; the server's peak and current RSS are read from /proc.
//
// It prints a table and appends it to bench/RESULTS.md.
//
//	go run ./bench/partition                     # full run: 20 s loads, 1,000 and 5,000 partitions
//	go run ./bench/partition -duration 3s -customers 100 -mem-customers 300 -mem-mb 10 -results ''   # smoke test
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

type options struct {
	duration, memTimeout              time.Duration
	concurrency, records, recordBytes int
	sizeMB, intervalS                 int
	customers, memCustomers, memMB    int
	memIntervalS, samples             int
	phases                            map[string]bool
	hydrantBin, results, profile      string
}

// Phase names.
const (
	phasePlain  = "plain"
	phaseJQ     = "jq"
	phaseMemory = "memory"
)

func main() {
	var o options
	var phases string
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "load duration of the plain and jq phases")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients")
	flag.IntVar(&o.records, "records", 500, "records per PutRecordBatch")
	flag.IntVar(&o.recordBytes, "record-bytes", 1024, fmt.Sprintf("bytes per record (one JSON event, at least %d)", minRecordBytes))
	flag.IntVar(&o.sizeMB, "size-mb", 64, "BufferingHints.SizeInMBs of every stream (dynamic partitioning needs ≥ 64)")
	flag.IntVar(&o.intervalS, "interval", 60, "BufferingHints.IntervalInSeconds of the plain and jq streams")
	flag.IntVar(&o.customers, "customers", 1000, "customer ids of the jq phase, and its maxActivePartitions")
	flag.IntVar(&o.memCustomers, "mem-customers", 5000, "customer ids of the memory phase, and its maxActivePartitions")
	flag.IntVar(&o.memMB, "mem-mb", 150, "record MB (10^6 B) the memory phase sends")
	flag.IntVar(&o.memIntervalS, "mem-interval", 900, "BufferingHints.IntervalInSeconds of the memory phase (nothing flushes by time)")
	flag.DurationVar(&o.memTimeout, "mem-timeout", 3*time.Minute, "bound on the memory phase's load and on its wait for the partitions to take every record")
	flag.IntVar(&o.samples, "samples", 5, "objects per phase checked in full, record by record against what was sent")
	flag.StringVar(&phases, "phases", "plain,jq,memory", "comma-separated phases to run")
	flag.StringVar(&o.hydrantBin, "hydrant-bin", "", "hydrant binary (default: build ./cmd/hydrant)")
	flag.StringVar(&o.profile, "profile", "", "write CPU profiles of hydrant during the plain and jq loads to this directory (hydrant-PHASE.pprof, via --pprof-listen)")
	flag.StringVar(&o.results, "results", "bench/RESULTS.md", "append a dated section here (relative to the module root); empty: print only")
	flag.Parse()
	o.phases = map[string]bool{}
	for p := range strings.SplitSeq(phases, ",") {
		switch p = strings.TrimSpace(p); p {
		case phasePlain, phaseJQ, phaseMemory:
			o.phases[p] = true
		default:
			fmt.Fprintf(os.Stderr, "partition: -phases: %q: must be %s, %s or %s\n", p, phasePlain, phaseJQ, phaseMemory)
			os.Exit(2)
		}
	}
	if o.recordBytes < minRecordBytes || o.recordBytes > 1000*1024 || o.records < 1 || o.records > 500 || o.concurrency < 1 ||
		o.customers < 1 || o.memCustomers < 1 || o.memMB < 1 || o.sizeMB < 1 {
		fmt.Fprintf(os.Stderr, "partition: -record-bytes must be %d..1024000, -records 1..500; -concurrency, -customers, -mem-customers, -mem-mb and -size-mb at least 1\n", minRecordBytes)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "partition:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	ws, err := harness.Prepare("hydrant-bench-partition-", o.hydrantBin, stdout)
	if err != nil {
		return err
	}
	defer ws.Close()
	root, tmp, bin := ws.Root, ws.Tmp, ws.Hydrant
	if o.profile != "" {
		if o.profile, err = filepath.Abs(o.profile); err != nil {
			return err
		}
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}

	var rep report
	if o.phases[phasePlain] {
		r, err := loadPhase(ctx, o, bin, filepath.Join(tmp, phasePlain), phasePlain, stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", phasePlain, err)
		}
		rep.plain = &r
	}
	if o.phases[phaseJQ] {
		r, err := loadPhase(ctx, o, bin, filepath.Join(tmp, phaseJQ), phaseJQ, stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", phaseJQ, err)
		}
		rep.jq = &r
	}
	if o.phases[phaseMemory] {
		r, err := memoryPhase(ctx, o, bin, filepath.Join(tmp, phaseMemory), stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", phaseMemory, err)
		}
		rep.mem = &r
	}

	text := render(o, rep, harness.SystemInfo(root))
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, text)
	if o.results != "" {
		p := o.results
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		header := "# Benchmark results\n\nAppended by `make bench`; newest last.\n"
		if err := harness.AppendResults(p, header, text); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nappended to %s\n", p)
	}
	if failed := rep.problems(); len(failed) > 0 {
		return fmt.Errorf("verification failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// cpu is the CPU time (user+system) of hydrant, of this process (the load client) and of
// every process on the machine at a moment.
type cpu struct{ hydrant, client, all time.Duration }

func (a cpu) sub(b cpu) cpu { return cpu{a.hydrant - b.hydrant, a.client - b.client, a.all - b.all} }

// others is the CPU time of processes other than the benchmark's own.
func (a cpu) others() time.Duration { return max(a.all-a.hydrant-a.client, 0) }

func cpuNow(h *harness.Proc) (cpu, error) {
	var c cpu
	var err error
	if c.hydrant, err = h.CPU(); err != nil {
		return c, err
	}
	if c.client, err = harness.ProcCPU(os.Getpid()); err != nil {
		return c, err
	}
	c.all, err = harness.SystemCPU()
	return c, err
}

// memory is hydrant's resident set at a moment: VmHWM (peak so far) and VmRSS.
type memory struct{ peak, current int64 }

func memNow(h *harness.Proc) memory {
	var m memory
	m.peak, m.current, _ = h.Memory()
	return m
}

// server is one hydrant process on a fresh data directory.
type server struct {
	*harness.Proc
	dataDir string
}

// startHydrant starts hydrant on a fresh data directory under dir with a config file that sets
// maxActivePartitions; with pprof, it also serves net/http/pprof on Proc.Addr2.
func startHydrant(bin, dir string, maxPartitions int, pprof bool) (*server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "hydrant.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "maxActivePartitions: %d\n", maxPartitions), 0o644); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	argv := []string{bin, "serve", "--config", cfg, "--data-dir", dataDir, "--listen", "{addr}", "--log-level", "warn"}
	if pprof {
		argv = append(argv, "--pprof-listen", "{addr2}")
	}
	p, err := harness.StartProc(harness.ProcSpec{Name: "hydrant", LogPath: filepath.Join(dir, "hydrant.log"),
		Ready: "/_hydrant/health", Within: 30 * time.Second, Argv: argv})
	if err != nil {
		return nil, err
	}
	return &server{Proc: p, dataDir: dataDir}, nil
}

// loadSpec is the phase's load: customers customer ids spread over the clients' bodies, each
// client sending as many different bodies as it takes to cover every customer.
func loadSpec(o options, customers int) harness.LoadSpec {
	slots := o.concurrency * o.records
	bodies := (customers + slots - 1) / slots
	perClient := bodies * o.records
	return harness.LoadSpec{
		Raw: true, Concurrency: o.concurrency, Records: o.records, RecordBytes: o.recordBytes, Bodies: bodies,
		Data: func(g, i, size int) []byte {
			return customerRecord(customerID(customerOf(g, i, perClient, customers)), g, i, size)
		},
	}
}

// loadResult is the measurement of the plain or jq phase.
type loadResult struct {
	name          string
	customers     int // customer ids in the records
	maxPartitions int // the server's maxActivePartitions
	dynamic       bool
	bodies        int // different bodies per client
	load          harness.LoadResult
	atEndBytes    int64             // record bytes in objects when the load ended
	atEndObjects  int               // objects written during the load
	statusAtEnd   harness.LegStatus // buffered and delivered when the load ended
	flushTook     time.Duration     // load end → flush answered, every acknowledged byte in objects
	statusAfter   harness.LegStatus // after the flush
	all           delivered         // after the flush, verified
	cpuLoad       cpu               // during the load
	cpuTotal      cpu               // load start → flush answered
	idle, atEnd   memory            // hydrant RSS before the load, and when the load ended
	after         memory            // after the flush
	profile       string            // CPU profile file, when -profile
	profileErr    error
}

// deliveryMBps is record bytes in objects when the load ended ÷ load time.
func (r loadResult) deliveryMBps() float64 {
	return float64(r.atEndBytes) / 1e6 / r.load.Elapsed.Seconds()
}

// takenMBps is record bytes the worker had taken into buffers or objects when the load ended ÷
// load time: what went through processing and partitioning during the load.
func (r loadResult) takenMBps() float64 {
	return float64(r.statusAtEnd.Bytes+r.statusAtEnd.BufferedBytes) / 1e6 / r.load.Elapsed.Seconds()
}

// sustainedMBps is every acknowledged record byte ÷ (load start → flush answered).
func (r loadResult) sustainedMBps() float64 {
	return float64(r.all.bytes) / 1e6 / (r.load.Elapsed + r.flushTook).Seconds()
}

func (r loadResult) problems() []string {
	var p []string
	if r.all.bytes != r.load.AckedBytes || r.all.records != r.load.AckedRecords {
		p = append(p, fmt.Sprintf("%s: %d records / %d bytes in objects, %d / %d acknowledged", r.name, r.all.records, r.all.bytes, r.load.AckedRecords, r.load.AckedBytes))
	}
	if r.all.errorFiles > 0 || r.statusAfter.FailedRecords > 0 {
		p = append(p, fmt.Sprintf("%s: error output holds %d objects (%d B), failedRecords %d", r.name, r.all.errorFiles, r.all.errorBytes, r.statusAfter.FailedRecords))
	}
	if r.dynamic && len(r.all.partitions) != r.customers {
		p = append(p, fmt.Sprintf("%s: %d partition directories, want %d", r.name, len(r.all.partitions), r.customers))
	}
	if r.all.badLength+r.all.misplaced+r.all.sampleBad > 0 {
		p = append(p, fmt.Sprintf("%s: %d records of the wrong length, %d in another customer's partition, %d sampled records differ from what was sent; first: %s",
			r.name, r.all.badLength, r.all.misplaced, r.all.sampleBad, r.all.firstBad))
	}
	if r.load.AckedRecords == 0 {
		p = append(p, r.name+": no record acknowledged")
	}
	return p
}

// loadPhase runs the plain or jq phase: a timed load, the delivery when it ends, a flush, and
// the check of every delivered object.
func loadPhase(ctx context.Context, o options, bin, dir, name string, stdout io.Writer) (loadResult, error) {
	r := loadResult{name: name, customers: o.customers, maxPartitions: 500, dynamic: name == phaseJQ}
	if r.dynamic {
		r.maxPartitions = o.customers
	}
	h, err := startHydrant(bin, dir, r.maxPartitions, o.profile != "")
	if err != nil {
		return r, err
	}
	defer h.Stop()
	defer os.RemoveAll(h.dataDir) // after Stop: the delivered objects and journal are GBs
	stream := "bench-" + name
	if err := createStream(ctx, h.URL, stream, r.dynamic, o.sizeMB, o.intervalS); err != nil {
		return r, err
	}
	spec := loadSpec(o, o.customers)
	spec.URL, spec.Stream, spec.Duration = h.URL, stream, o.duration
	r.bodies = max(spec.Bodies, 1)

	prof := make(chan error, 1)
	if o.profile != "" {
		r.profile = filepath.Join(o.profile, "hydrant-"+name+".pprof")
		secs := max(int(o.duration.Seconds())-1, 1)
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.Addr2, secs)
		go func() { prof <- fetchPprof(ctx, url, r.profile) }()
	}
	fmt.Fprintf(stdout, "%s: %d clients × PutRecordBatch(%d × %d B), %d customers, for %v ...\n", name, spec.Concurrency, spec.Records, spec.RecordBytes, o.customers, o.duration)
	r.idle = memNow(h.Proc)
	c0, err := cpuNow(h.Proc)
	if err != nil {
		return r, err
	}
	r.load = harness.RunLoad(ctx, spec)
	c1, err := cpuNow(h.Proc)
	if err != nil {
		return r, err
	}
	r.atEndBytes, r.atEndObjects, _ = bucketBytes(h.dataDir, stream)
	r.atEnd = memNow(h.Proc)
	if r.statusAtEnd, err = harness.DeliveryStatus(ctx, h.URL, stream); err != nil {
		return r, err
	}
	if err := harness.Flush(ctx, h.URL, stream); err != nil {
		return r, err
	}
	r.flushTook = time.Since(r.load.LoadEnded)
	c2, err := cpuNow(h.Proc)
	if err != nil {
		return r, err
	}
	r.cpuLoad, r.cpuTotal = c1.sub(c0), c2.sub(c0)
	r.after = memNow(h.Proc)
	if r.statusAfter, err = harness.DeliveryStatus(ctx, h.URL, stream); err != nil {
		return r, err
	}
	if o.profile != "" {
		r.profileErr = <-prof
	}
	fmt.Fprintf(stdout, "  ingest %.1f MB/s; delivery during the load %.1f MB/s (%.1f MB/s taken into buffers); flush done %v after the load; checking objects ...\n",
		r.load.MBPerSec(), r.deliveryMBps(), r.takenMBps(), r.flushTook.Round(time.Millisecond))
	if r.all, err = verifyBucket(h.dataDir, stream, r.dynamic, o.recordBytes, o.samples, spec.Data); err != nil {
		return r, err
	}
	return r, nil
}

// memResult is the measurement of the memory phase.
type memResult struct {
	customers   int
	bodies      int
	load        harness.LoadResult
	caughtUp    time.Duration     // load end → every acknowledged record in a partition buffer
	status      harness.LegStatus // then
	idle, full  memory            // hydrant RSS before the load; with every partition holding data
	cpuLoad     cpu
	flushTook   time.Duration
	statusAfter harness.LegStatus
	after       memory
	all         delivered
	heapProfile string // heap profile with every partition holding data, when -profile
	heapErr     error
}

func (r memResult) problems() []string {
	var p []string
	if r.status.Partitions != r.customers {
		p = append(p, fmt.Sprintf("memory: delivery status reports %d partitions, want %d", r.status.Partitions, r.customers))
	}
	if r.status.PartitionLimitHits > 0 {
		p = append(p, fmt.Sprintf("memory: %d messages hit the active-partition limit", r.status.PartitionLimitHits))
	}
	if r.all.bytes != r.load.AckedBytes || r.all.records != r.load.AckedRecords {
		p = append(p, fmt.Sprintf("memory: %d records / %d bytes in objects, %d / %d acknowledged", r.all.records, r.all.bytes, r.load.AckedRecords, r.load.AckedBytes))
	}
	if len(r.all.partitions) != r.customers {
		p = append(p, fmt.Sprintf("memory: %d partition directories, want %d", len(r.all.partitions), r.customers))
	}
	if r.all.errorFiles > 0 || r.statusAfter.FailedRecords > 0 {
		p = append(p, fmt.Sprintf("memory: error output holds %d objects, failedRecords %d", r.all.errorFiles, r.statusAfter.FailedRecords))
	}
	if r.all.badLength+r.all.misplaced+r.all.sampleBad > 0 {
		p = append(p, fmt.Sprintf("memory: %d records of the wrong length, %d misplaced, %d sampled differ; first: %s", r.all.badLength, r.all.misplaced, r.all.sampleBad, r.all.firstBad))
	}
	return p
}

// memoryPhase fills mem-customers partitions that flush neither by size nor by time, waits
// until the worker has taken every acknowledged record, and reads hydrant's RSS.
func memoryPhase(ctx context.Context, o options, bin, dir string, stdout io.Writer) (memResult, error) {
	r := memResult{customers: o.memCustomers}
	h, err := startHydrant(bin, dir, o.memCustomers, o.profile != "")
	if err != nil {
		return r, err
	}
	defer h.Stop()
	defer os.RemoveAll(h.dataDir)
	const stream = "bench-memory"
	if err := createStream(ctx, h.URL, stream, true, o.sizeMB, o.memIntervalS); err != nil {
		return r, err
	}
	spec := loadSpec(o, o.memCustomers)
	r.bodies = max(spec.Bodies, 1)
	batch := o.records * o.recordBytes
	calls := max((o.memMB*1_000_000+batch-1)/batch, r.bodies*o.concurrency) // at least every body once: every customer
	spec.URL, spec.Stream, spec.Duration, spec.Calls = h.URL, stream, o.memTimeout, calls
	fmt.Fprintf(stdout, "memory: %d calls of %d × %d B over %d customers (%d bodies per client), interval %d s ...\n",
		calls, o.records, o.recordBytes, o.memCustomers, r.bodies, o.memIntervalS)
	r.idle = memNow(h.Proc)
	c0, err := cpuNow(h.Proc)
	if err != nil {
		return r, err
	}
	r.load = harness.RunLoad(ctx, spec)
	c1, err := cpuNow(h.Proc)
	if err != nil {
		return r, err
	}
	r.cpuLoad = c1.sub(c0)
	if r.load.OKCalls < calls {
		return r, fmt.Errorf("%d of %d calls acknowledged in full within %v (failed %d, partial %d; first error %v)",
			r.load.OKCalls, calls, o.memTimeout, r.load.FailedCalls, r.load.PartialCalls, r.load.FirstErr)
	}
	for deadline := time.Now().Add(o.memTimeout); ; {
		if r.status, err = harness.DeliveryStatus(ctx, h.URL, stream); err != nil {
			return r, err
		}
		if r.status.BufferedRecords+r.status.Records+r.status.FailedRecords >= int64(r.load.AckedRecords) {
			r.caughtUp = time.Since(r.load.LoadEnded)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return r, fmt.Errorf("after %v the partitions hold %d of %d acknowledged records", o.memTimeout, r.status.BufferedRecords, r.load.AckedRecords)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.full = memNow(h.Proc)
	if o.profile != "" {
		r.heapProfile = filepath.Join(o.profile, "hydrant-memory-heap.pprof")
		r.heapErr = fetchPprof(ctx, "http://"+h.Addr2+"/debug/pprof/heap", r.heapProfile)
	}
	fmt.Fprintf(stdout, "  %.1f MB in %d partitions %v after the load; hydrant RSS peak %.0f MiB, current %.0f MiB\n",
		float64(r.status.BufferedBytes)/1e6, r.status.Partitions, r.caughtUp.Round(time.Millisecond), mib(r.full.peak), mib(r.full.current))
	t0 := time.Now()
	if err := harness.Flush(ctx, h.URL, stream); err != nil {
		return r, err
	}
	r.flushTook = time.Since(t0)
	r.after = memNow(h.Proc)
	if r.statusAfter, err = harness.DeliveryStatus(ctx, h.URL, stream); err != nil {
		return r, err
	}
	if r.all, err = verifyBucket(h.dataDir, stream, true, o.recordBytes, o.samples, spec.Data); err != nil {
		return r, err
	}
	return r, nil
}

// report is every phase that ran.
type report struct {
	plain, jq *loadResult
	mem       *memResult
}

func (r report) problems() []string {
	var p []string
	for _, l := range []*loadResult{r.plain, r.jq} {
		if l != nil {
			p = append(p, l.problems()...)
		}
	}
	if r.mem != nil {
		p = append(p, r.mem.problems()...)
	}
	return p
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
