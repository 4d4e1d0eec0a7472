// Command partition measures the delivery engine on the built hydrant binary, in one run and
// five phases, each on a fresh server and data directory:
//
//  1. plain: the pre-encoded PutRecordBatch load of bench/ingest, with 1 KiB JSON records
//     that carry a customer_id, into a stream without processing or partitioning;
//  2. jq: the same load into a stream that partitions by
//     MetadataExtractionQuery {customer_id:.customer_id} over exactly -customers customers,
//     maxActivePartitions as many; its delivery is compared with plain's and every delivered
//     record is checked to sit in its customer's partition;
//  3. memory: -mem-customers active partitions that never flush by size or time, filled
//     with -mem-mb of records; the server's peak and current RSS are read from /proc, then
//     the flush is timed;
//  4. flush: the memory phase's setup and flush, timed, to the local directory and to MinIO
//     (hydrant serve with AWS_ENDPOINT_URL_S3), each with writesPerStream 1 (one object
//     write at a time, as the engine before the actor rebuild wrote) and with the default,
//     in turn on fresh servers, -flush-rounds times;
//  5. lambda: -lambda-records single-record PutRecord calls into a stream with a Lambda
//     processor (BufferSizeInMBs -lambda-buffer-mb) served by an in-process Invoke API
//     (examples/lambda/emulator) that counts the invocations and their records, then a flush.
//
// It prints a table and appends it to bench/RESULTS.md.
//
//	go run ./bench/partition                     # full run: 20 s loads, 1,000 and 5,000 partitions
//	go run ./bench/partition -duration 3s -customers 100 -mem-customers 300 -mem-mb 10 \
//	    -flush-rounds 1 -lambda-records 500 -results ''                           # smoke test
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
	"slices"
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
	flushTargets                      []string
	flushRounds, flushProfileS        int
	lambdaRecords, lambdaConcurrency  int
	lambdaMinBytes, lambdaMaxBytes    int
	lambdaBufferMB                    float64
	lambdaIntervalS                   int
	phases                            map[string]bool
	hydrantBin, minioBin              string
	results, profile                  string
}

// Phase names.
const (
	phasePlain  = "plain"
	phaseJQ     = "jq"
	phaseMemory = "memory"
	phaseFlush  = "flush"
	phaseLambda = "lambda"
)

// Flush targets.
const (
	targetLocal = "local"
	targetS3    = "s3"
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
	var targets string
	flag.StringVar(&targets, "flush-targets", "local,s3", "comma-separated object stores of the flush phase: local (the data directory), s3 (MinIO)")
	flag.IntVar(&o.flushRounds, "flush-rounds", 2, "rounds of the flush phase; each round flushes every target with writesPerStream 1, then with the default")
	flag.IntVar(&o.flushProfileS, "flush-profile-seconds", 5, "with -profile: seconds of each flush phase CPU profile, taken from the flush's start")
	flag.IntVar(&o.lambdaRecords, "lambda-records", 10000, "PutRecord calls (one record each) of the lambda phase")
	flag.IntVar(&o.lambdaConcurrency, "lambda-concurrency", 8, "concurrent PutRecord clients of the lambda phase")
	flag.IntVar(&o.lambdaMinBytes, "lambda-min-bytes", 100, "smallest record of the lambda phase (sizes spread evenly up to -lambda-max-bytes)")
	flag.IntVar(&o.lambdaMaxBytes, "lambda-max-bytes", 1000, "largest record of the lambda phase")
	flag.Float64Var(&o.lambdaBufferMB, "lambda-buffer-mb", 1, "the Lambda processor's BufferSizeInMBs")
	flag.IntVar(&o.lambdaIntervalS, "lambda-interval", 0, "the Lambda processor's BufferIntervalInSeconds; 0 leaves it unset (default 60)")
	flag.StringVar(&phases, "phases", "plain,jq,memory,flush,lambda", "comma-separated phases to run")
	flag.StringVar(&o.hydrantBin, "hydrant-bin", "", "hydrant binary (default: build ./cmd/hydrant)")
	flag.StringVar(&o.minioBin, "minio-bin", harness.MinIOBinary(), "minio binary of the flush phase's s3 target (default: $HYDRANT_MINIO, $(go env GOPATH)/bin/minio or minio on PATH)")
	flag.StringVar(&o.profile, "profile", "", "write CPU profiles of hydrant during the plain and jq loads and each flush of the flush phase, and a heap profile in the memory phase, to this directory (via --pprof-listen)")
	flag.StringVar(&o.results, "results", "bench/RESULTS.md", "append a dated section here (relative to the module root); empty: print only")
	flag.Parse()
	o.phases = map[string]bool{}
	for p := range strings.SplitSeq(phases, ",") {
		switch p = strings.TrimSpace(p); p {
		case phasePlain, phaseJQ, phaseMemory, phaseFlush, phaseLambda:
			o.phases[p] = true
		default:
			fmt.Fprintf(os.Stderr, "partition: -phases: %q: must be %s, %s, %s, %s or %s\n", p, phasePlain, phaseJQ, phaseMemory, phaseFlush, phaseLambda)
			os.Exit(2)
		}
	}
	for t := range strings.SplitSeq(targets, ",") {
		switch t = strings.TrimSpace(t); t {
		case targetLocal, targetS3:
			o.flushTargets = append(o.flushTargets, t)
		default:
			fmt.Fprintf(os.Stderr, "partition: -flush-targets: %q: must be %s or %s\n", t, targetLocal, targetS3)
			os.Exit(2)
		}
	}
	if o.flushRounds < 1 || o.lambdaRecords < 1 || o.lambdaConcurrency < 1 || o.lambdaMinBytes < minLambdaBytes || o.lambdaMaxBytes < o.lambdaMinBytes ||
		o.lambdaMaxBytes > 1000*1024 || o.lambdaBufferMB < 0.2 || o.lambdaBufferMB > 3 || o.lambdaIntervalS < 0 || o.lambdaIntervalS > 900 {
		fmt.Fprintf(os.Stderr, "partition: -flush-rounds, -lambda-records and -lambda-concurrency must be at least 1; -lambda-min-bytes %d..-lambda-max-bytes..1024000; "+
			"-lambda-buffer-mb 0.2..3 (BufferSizeInMBs' bounds); -lambda-interval 0..900\n", minLambdaBytes)
		os.Exit(2)
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
	if o.phases[phaseFlush] && slices.Contains(o.flushTargets, targetS3) {
		if _, err := exec.LookPath(o.minioBin); err != nil {
			return fmt.Errorf("the flush phase's s3 target needs a minio binary (-minio-bin, $HYDRANT_MINIO, scripts/install-minio.sh), or -flush-targets local: %w", err)
		}
	}
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

	rep := report{loadStart: harness.LoadAvg()}
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
	if o.phases[phaseFlush] {
		runs, err := flushPhase(ctx, o, bin, filepath.Join(tmp, phaseFlush), stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", phaseFlush, err)
		}
		rep.flush = runs
	}
	if o.phases[phaseLambda] {
		r, err := lambdaPhase(ctx, o, bin, filepath.Join(tmp, phaseLambda), stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", phaseLambda, err)
		}
		rep.lambda = &r
	}
	rep.loadEnd = harness.LoadAvg()

	text := render(o, rep, ws.Info)
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

// cpu is the CPU time (user+system) of hydrant, of MinIO (when the phase runs one), of this
// process (the load client) and of every process on the machine at a moment.
type cpu struct{ hydrant, minio, client, all time.Duration }

func (a cpu) sub(b cpu) cpu {
	return cpu{a.hydrant - b.hydrant, a.minio - b.minio, a.client - b.client, a.all - b.all}
}

// others is the CPU time of processes other than the benchmark's own.
func (a cpu) others() time.Duration { return max(a.all-a.hydrant-a.minio-a.client, 0) }

// cpuNow reads the CPU time of h, of m unless it is nil, of this process and of the machine.
func cpuNow(h, m *harness.Proc) (cpu, error) {
	var c cpu
	var err error
	if c.hydrant, err = h.CPU(); err != nil {
		return c, err
	}
	if m != nil {
		if c.minio, err = m.CPU(); err != nil {
			return c, err
		}
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

// serverSpec is how a phase's hydrant is configured.
type serverSpec struct {
	maxPartitions   int
	writesPerStream int      // 0: the default
	extraConfig     string   // YAML appended to the config file
	env             []string // e.g. MinIO's, which makes the object store S3
	pprof           bool     // serve net/http/pprof on Proc.Addr2
}

// startHydrant starts hydrant on a fresh data directory under dir with a config file written
// from s.
func startHydrant(bin, dir string, s serverSpec) (*server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "hydrant.yaml")
	text := fmt.Sprintf("maxActivePartitions: %d\n", s.maxPartitions)
	if s.writesPerStream > 0 {
		text += fmt.Sprintf("writesPerStream: %d\n", s.writesPerStream)
	}
	text += s.extraConfig
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	argv := []string{bin, "serve", "--config", cfg, "--data-dir", dataDir, "--listen", "{addr}", "--log-level", "warn"}
	if s.pprof {
		argv = append(argv, "--pprof-listen", "{addr2}")
	}
	p, err := harness.StartProc(harness.ProcSpec{Name: "hydrant", LogPath: filepath.Join(dir, "hydrant.log"),
		Ready: "/_hydrant/health", Within: 30 * time.Second, Argv: argv, Env: s.env})
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
	loadAvg       string            // /proc/loadavg when the load ended
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
	h, err := startHydrant(bin, dir, serverSpec{maxPartitions: r.maxPartitions, pprof: o.profile != ""})
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
	c0, err := cpuNow(h.Proc, nil)
	if err != nil {
		return r, err
	}
	r.load = harness.RunLoad(ctx, spec)
	c1, err := cpuNow(h.Proc, nil)
	if err != nil {
		return r, err
	}
	r.loadAvg = harness.LoadAvg()
	r.atEndBytes, r.atEndObjects, _ = bucketBytes(h.dataDir, stream)
	r.atEnd = memNow(h.Proc)
	if r.statusAtEnd, err = harness.DeliveryStatus(ctx, h.URL, stream); err != nil {
		return r, err
	}
	if err := harness.Flush(ctx, h.URL, stream); err != nil {
		return r, err
	}
	r.flushTook = time.Since(r.load.LoadEnded)
	c2, err := cpuNow(h.Proc, nil)
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
	if r.all, err = verifyBucket(ctx, localStore{h.dataDir}, stream, r.dynamic, o.recordBytes, o.samples, spec.Data); err != nil {
		return r, err
	}
	return r, nil
}

// memResult is the measurement of the memory phase, or of one run of the flush phase.
type memResult struct {
	target      string // targetLocal or targetS3
	writes      int    // writesPerStream in the config file; 0: the default
	round       int
	customers   int
	bodies      int
	load        harness.LoadResult
	caughtUp    time.Duration     // load end → every acknowledged record in a partition buffer
	status      harness.LegStatus // then
	idle, full  memory            // hydrant RSS before the load; with every partition holding data
	cpuLoad     cpu
	flushTook   time.Duration
	cpuFlush    cpu              // during the flush
	progress    []progressSample // objects written during the flush, polled
	loadAvg     string           // /proc/loadavg before the flush
	statusAfter harness.LegStatus
	after       memory
	all         delivered
	heapProfile string // heap profile with every partition holding data, when -profile
	heapErr     error
	cpuProfile  string // CPU profile from the flush's start, when -profile (flush phase)
	cpuProfErr  error
}

// name is how the run is called in the results.
func (r memResult) name() string {
	if r.round == 0 {
		return phaseMemory
	}
	w := "writesPerStream default"
	if r.writes > 0 {
		w = fmt.Sprintf("writesPerStream %d", r.writes)
	}
	return fmt.Sprintf("flush %s, %s, round %d", r.target, w, r.round)
}

// flushCores is the cores hydrant, MinIO and other processes used during the flush.
func (r memResult) flushCores() (hydrant, minio, others float64) {
	s := r.flushTook.Seconds()
	return r.cpuFlush.hydrant.Seconds() / s, r.cpuFlush.minio.Seconds() / s, r.cpuFlush.others().Seconds() / s
}

func (r memResult) problems() []string {
	var p []string
	name := r.name()
	if r.status.Partitions != r.customers {
		p = append(p, fmt.Sprintf("%s: delivery status reports %d partitions, want %d", name, r.status.Partitions, r.customers))
	}
	if r.status.PartitionLimitHits > 0 {
		p = append(p, fmt.Sprintf("%s: %d messages hit the active-partition limit", name, r.status.PartitionLimitHits))
	}
	if r.all.bytes != r.load.AckedBytes || r.all.records != r.load.AckedRecords {
		p = append(p, fmt.Sprintf("%s: %d records / %d bytes in objects, %d / %d acknowledged", name, r.all.records, r.all.bytes, r.load.AckedRecords, r.load.AckedBytes))
	}
	if len(r.all.partitions) != r.customers {
		p = append(p, fmt.Sprintf("%s: %d partition directories, want %d", name, len(r.all.partitions), r.customers))
	}
	if r.all.errorFiles > 0 || r.statusAfter.FailedRecords > 0 {
		p = append(p, fmt.Sprintf("%s: error output holds %d objects, failedRecords %d", name, r.all.errorFiles, r.statusAfter.FailedRecords))
	}
	if r.all.badLength+r.all.misplaced+r.all.sampleBad > 0 {
		p = append(p, fmt.Sprintf("%s: %d records of the wrong length, %d misplaced, %d sampled differ; first: %s", name, r.all.badLength, r.all.misplaced, r.all.sampleBad, r.all.firstBad))
	}
	return p
}

// memoryPhase fills mem-customers partitions that flush neither by size nor by time, waits
// until the worker has taken every acknowledged record, and reads hydrant's RSS.
func memoryPhase(ctx context.Context, o options, bin, dir string, stdout io.Writer) (memResult, error) {
	return fillAndFlush(ctx, o, bin, dir, memResult{target: targetLocal}, stdout)
}

// fillAndFlush runs the memory phase's load into r.target with r.writes, then times the flush
// and verifies every object.
func fillAndFlush(ctx context.Context, o options, bin, dir string, r memResult, stdout io.Writer) (memResult, error) {
	r.customers = o.memCustomers
	ss := serverSpec{maxPartitions: o.memCustomers, writesPerStream: r.writes, pprof: o.profile != ""}
	const stream = "bench-memory"
	var st store
	var m *harness.MinIO
	if r.target == targetS3 {
		var err error
		if m, err = harness.StartMinIO(ctx, o.minioBin, filepath.Join(dir, "minio")); err != nil {
			return r, err
		}
		defer m.Close()
		if err := m.CreateBucket(ctx, stream); err != nil {
			return r, err
		}
		ss.env, st = m.Env(), minioStore{m}
	}
	h, err := startHydrant(bin, dir, ss)
	if err != nil {
		return r, err
	}
	defer h.Stop()
	defer os.RemoveAll(h.dataDir)
	if st == nil {
		st = localStore{h.dataDir}
	}
	var mp *harness.Proc
	if m != nil {
		mp = m.Proc
	}
	if err := createStream(ctx, h.URL, stream, true, o.sizeMB, o.memIntervalS); err != nil {
		return r, err
	}
	spec := loadSpec(o, o.memCustomers)
	r.bodies = max(spec.Bodies, 1)
	batch := o.records * o.recordBytes
	calls := max((o.memMB*1_000_000+batch-1)/batch, r.bodies*o.concurrency) // at least every body once: every customer
	spec.URL, spec.Stream, spec.Duration, spec.Calls = h.URL, stream, o.memTimeout, calls
	fmt.Fprintf(stdout, "%s: %d calls of %d × %d B over %d customers (%d bodies per client), interval %d s ...\n",
		r.name(), calls, o.records, o.recordBytes, o.memCustomers, r.bodies, o.memIntervalS)
	r.idle = memNow(h.Proc)
	c0, err := cpuNow(h.Proc, mp)
	if err != nil {
		return r, err
	}
	r.load = harness.RunLoad(ctx, spec)
	c1, err := cpuNow(h.Proc, mp)
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
	if o.profile != "" && r.round == 0 {
		r.heapProfile = filepath.Join(o.profile, "hydrant-memory-heap.pprof")
		r.heapErr = fetchPprof(ctx, "http://"+h.Addr2+"/debug/pprof/heap", r.heapProfile)
	}
	fmt.Fprintf(stdout, "  %.1f MB in %d partitions %v after the load; hydrant RSS peak %.0f MiB, current %.0f MiB\n",
		float64(r.status.BufferedBytes)/1e6, r.status.Partitions, r.caughtUp.Round(time.Millisecond), mib(r.full.peak), mib(r.full.current))
	prof := make(chan error, 1)
	if o.profile != "" && r.round > 0 {
		w := "default"
		if r.writes > 0 {
			w = fmt.Sprint(r.writes)
		}
		r.cpuProfile = filepath.Join(o.profile, fmt.Sprintf("hydrant-flush-%s-writes%s-round%d.pprof", r.target, w, r.round))
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.Addr2, o.flushProfileS)
		go func() { prof <- fetchPprof(ctx, url, r.cpuProfile) }()
		time.Sleep(100 * time.Millisecond) // let the profile start before the flush
	}
	r.loadAvg = harness.LoadAvg()
	c2, err := cpuNow(h.Proc, mp)
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	pctx, stopPoll := context.WithCancel(ctx)
	polled := make(chan []progressSample, 1)
	go func() { polled <- pollObjects(pctx, h.URL, stream, t0) }()
	err = harness.Flush(ctx, h.URL, stream)
	r.flushTook = time.Since(t0)
	stopPoll()
	r.progress = <-polled
	if err != nil {
		return r, err
	}
	c3, err := cpuNow(h.Proc, mp)
	if err != nil {
		return r, err
	}
	r.cpuFlush = c3.sub(c2)
	fmt.Fprintf(stdout, "  flush %v (load average %s); checking objects ...\n", r.flushTook.Round(time.Millisecond), r.loadAvg)
	r.after = memNow(h.Proc)
	if r.statusAfter, err = harness.DeliveryStatus(ctx, h.URL, stream); err != nil {
		return r, err
	}
	if r.cpuProfile != "" {
		r.cpuProfErr = <-prof
	}
	if r.all, err = verifyBucket(ctx, st, stream, true, o.recordBytes, o.samples, spec.Data); err != nil {
		return r, err
	}
	return r, nil
}

// progressSample is the delivery status's object count some time after the flush started.
type progressSample struct {
	at      time.Duration
	objects int64
}

// pollObjects reads the stream's written object count every 50 ms until ctx ends.
func pollObjects(ctx context.Context, url, stream string, t0 time.Time) []progressSample {
	var out []progressSample
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
		st, err := harness.DeliveryStatus(ctx, url, stream)
		if err != nil {
			continue
		}
		out = append(out, progressSample{at: time.Since(t0), objects: st.Objects})
	}
}

// firstAt returns when the polled object count first reached n, or 0.
func (r memResult) firstAt(n int64) time.Duration {
	for _, p := range r.progress {
		if p.objects >= n {
			return p.at
		}
	}
	return 0
}

// flushPhase runs fillAndFlush for every target, round after round, with writesPerStream 1
// and with the default in turn, each on fresh servers.
func flushPhase(ctx context.Context, o options, bin, dir string, stdout io.Writer) ([]memResult, error) {
	var runs []memResult
	for round := 1; round <= o.flushRounds; round++ {
		for _, t := range o.flushTargets {
			for _, w := range []int{1, 0} {
				r := memResult{target: t, writes: w, round: round}
				r, err := fillAndFlush(ctx, o, bin, filepath.Join(dir, fmt.Sprintf("%s-%d-%d", t, w, round)), r, stdout)
				if err != nil {
					return runs, fmt.Errorf("%s: %w", r.name(), err)
				}
				runs = append(runs, r)
			}
		}
	}
	return runs, nil
}

// report is every phase that ran.
type report struct {
	plain, jq          *loadResult
	mem                *memResult
	flush              []memResult
	lambda             *lambdaResult
	loadStart, loadEnd string // /proc/loadavg when the run started and ended
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
	for _, f := range r.flush {
		p = append(p, f.problems()...)
	}
	if r.lambda != nil {
		p = append(p, r.lambda.problems()...)
	}
	return p
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
