// Package server composes Hydrant: the journal, the catalog, the delivery workers and the
// Firehose API on one HTTP listener, and owns their lifecycle.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/api/shape"
	"github.com/hydrant-dev/hydrant/internal/auth"
	"github.com/hydrant-dev/hydrant/internal/catalog"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/console"
	"github.com/hydrant-dev/hydrant/internal/delivery"
	"github.com/hydrant-dev/hydrant/internal/destination/httpendpoint"
	"github.com/hydrant-dev/hydrant/internal/dirlock"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/lease"
	"github.com/hydrant-dev/hydrant/internal/listen"
	"github.com/hydrant-dev/hydrant/internal/membudget"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/metrics/cloudwatch"
	"github.com/hydrant-dev/hydrant/internal/processor/lambda"
)

// Server is a running Hydrant node.
type Server struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	ready chan struct{}
	// resumed is closed when the delivery of the streams found at the start runs again.
	resumed chan struct{}
	// refusals limits the log lines of puts refused by a full journal (they are counted in
	// ThrottledRecords and hydrant_journal_refused_puts).
	refusals *logLimiter
	addr     string

	budget     *membudget.Budget // the process's memory (docs/design/memory.md)
	api        *api.Handler
	journal    *journal.Journal
	cat        *catalog.Catalog
	deliveries *delivery.Manager
	objects    *objectRouter
	svc        *service
	putBatches sync.Pool
	runCtx     context.Context // lives as long as Run; bounds clients created on demand

	lambdaMu sync.Mutex
	lambda   *lambda.Invoker
	metrics  *metrics.Store
	read     metricReader      // the metrics of this node, or of every live node in a cluster
	rec      delivery.Recorder // the store, or nothing with MetricsOff
	faults   *faultTable

	appends appendForwarding // puts sent to and taken from other nodes (appends.go)

	srcs sources // the readers of Kinesis and Kafka sources
	// leases decides which node delivers each stream; nil on a single node (cluster.go).
	leases *lease.Manager
	owned  ownedRuns // the take-overs of the streams this node holds the lease of (cluster.go)

	creds *auth.Store   // the credentials in force; swapped on SIGHUP
	certs *listen.Certs // the TLS certificate, when serving HTTPS
	guard *guard

	// The HTTP endpoint client and the Secrets Manager reader of its keys (httpendpoint.go).
	httpClient *httpendpoint.Client
	secrets    *httpendpoint.Secrets
}

type noRecorder struct{}

func (noRecorder) Record(string, string, metrics.Unit, float64) {}

// New returns a Server for cfg; Run starts it.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		log:        log,
		now:        time.Now,
		ready:      make(chan struct{}),
		resumed:    make(chan struct{}),
		putBatches: sync.Pool{New: func() any { return new(shape.PutBatch) }},
		faults:     newFaultTable(cfg.Faults),
	}
	s.refusals = newLogLimiter(10*time.Second, func() time.Time { return s.now() })
	set, err := auth.Compile(cfg.Credentials)
	if err != nil {
		return nil, err
	}
	s.creds = auth.NewStore(set)
	if s.httpClient, err = httpendpoint.NewClient(cfg.HTTPEndpoint.options(), func() time.Time { return s.now() }); err != nil {
		return nil, err
	}
	s.secrets = httpendpoint.NewSecrets(nil, func() time.Time { return s.now() })
	return s, nil
}

// ownedDirs returns the directories a server locks: the data directory, and the journal's
// when it is not inside it.
func ownedDirs(cfg Config) []string {
	dirs := []string{cfg.DataDir}
	if rel, err := filepath.Rel(cfg.DataDir, cfg.Journal.Dir); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		dirs = append(dirs, cfg.Journal.Dir)
	}
	return dirs
}

// Ready is closed once the server accepts requests.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the listener's address; valid after Ready.
func (s *Server) Addr() string { return s.addr }

// Run starts every part, serves until ctx ends, then stops them in order. A ctx that ends is a
// requested stop, not a failure: Run returns nil, even when it ends during startup.
func (s *Server) Run(ctx context.Context) error {
	err := s.run(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		s.log.Info("hydrant stopped during startup", "cause", err)
		return nil
	}
	return err
}

func (s *Server) run(ctx context.Context) error {
	// One owner per data directory (and journal directory, when it lives elsewhere), taken
	// before anything in them is opened.
	for _, dir := range ownedDirs(s.cfg) {
		lock, err := dirlock.Acquire(dir)
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	// The ports are taken next, before the slow work, so that one in use fails the start at
	// once. Connections queue in the kernel until Serve below, when the server is ready.
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	defer ln.Close()
	if s.cfg.TLSCert != "" {
		if s.certs, err = listen.LoadCerts(s.cfg.TLSCert, s.cfg.TLSKey); err != nil {
			return err
		}
	}
	s.warnInsecure()
	if s.cfg.PprofListen != "" {
		stopPprof, err := servePprof(s.cfg.PprofListen, s.log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	s.budget = membudget.New(s.cfg.MemoryBudget)
	defer s.setMemoryLimit()()
	jcfg := s.cfg.Journal
	jcfg.Budget = s.budget
	j, err := journal.Open(ctx, jcfg, s.log.With("part", "journal"))
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer j.Close()
	s.journal = j

	kv, err := j.KV(ctx, "hydrant_catalog")
	if err != nil {
		return fmt.Errorf("open catalog store: %w", err)
	}
	if s.cat, err = catalog.Open(ctx, catalog.Config{MaxStreams: s.cfg.MaxStreams}, kv); err != nil {
		return fmt.Errorf("open catalog: %w", err)
	}
	if j.Clustered() {
		if err := s.newLeases(ctx, ln.Addr().String()); err != nil {
			return fmt.Errorf("open cluster leases: %w", err)
		}
		// A change another node made to a stream this node delivers is applied here.
		s.cat.OnChange(func(name string) { go s.reconfigureOwned(name) })
	}
	// The catalog follows the changes other nodes make to the shared bucket; stopped before the
	// journal closes.
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err := s.cat.Watch(watchCtx); watchCtx.Err() == nil {
			s.log.Error("watch catalog", "err", err)
		}
	}()
	defer func() { stopWatch(); <-watchDone }()
	if s.srcs.copies, err = j.KV(ctx, sourcesBucket); err != nil {
		return fmt.Errorf("open source positions: %w", err)
	}
	defer s.stopSources() // before the journal closes
	if s.objects, err = newObjectRouter(ctx, s.cfg, s.log); err != nil {
		return err
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	s.runCtx = runCtx
	if s.metrics, err = metrics.Open(metrics.Config{Dir: filepath.Join(s.cfg.DataDir, "metrics"), Retention: time.Duration(s.cfg.MetricsRetention)},
		s.log.With("part", "metrics"), s.now); err != nil {
		return fmt.Errorf("open metrics: %w", err)
	}
	s.rec = s.metrics
	s.read = localMetrics{s.metrics}
	if j.Clustered() {
		if s.read, err = s.clusterMetrics(runCtx); err != nil {
			return fmt.Errorf("serve metrics to the cluster: %w", err)
		}
		if err := s.serveAppends(runCtx); err != nil {
			return fmt.Errorf("serve other nodes' puts: %w", err)
		}
	}
	s.journalGauges()
	if s.cfg.MetricsOff {
		s.rec = noRecorder{}
	}
	metricsDone := make(chan error, 1)
	go func() { metricsDone <- s.metrics.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-metricsDone; err != nil {
			s.log.Error("save metrics", "err", err)
		}
	}()
	s.deliveries = delivery.NewManager(delivery.Deps{
		Log: j, State: j, Objects: s.objects, Logger: s.log.With("part", "delivery"), Clock: delivery.ClockFunc(s.now),
		Compression:     compress.Config{Concurrency: runtime.GOMAXPROCS(0)},
		Metrics:         s.rec,
		WritesPerStream: s.cfg.WritesPerStream,
		Writes:          s.cfg.Writes,
		Budget:          s.budget,
	})
	deliveriesDone := make(chan error, 1)
	go func() { deliveriesDone <- s.deliveries.Run(runCtx) }()
	defer func() {
		stop()
		<-deliveriesDone
	}()
	var tasks sync.WaitGroup
	s.svc = &service{
		region: s.cfg.Region, account: s.cfg.AccountID, cat: s.cat, life: s, log: s.log,
		now: s.now, ctx: runCtx, tasks: &tasks,
	}
	if err := s.recover(runCtx); err != nil {
		return err
	}
	if err := s.declareStreams(runCtx); err != nil {
		return err
	}
	if s.leases != nil {
		defer s.runLeases(runCtx)() // waits, at shutdown, until the leases are released
	}

	s.addr = ln.Addr().String()
	lc := s.cfg.listenConfig()
	hs := listen.NewServer(listen.NewLimiter(s.routes(), lc.MaxConcurrent, http.HandlerFunc(slowDown)), lc, s.log.With("part", "http"))
	s.memoryGauges()
	s.metrics.Gauge("hydrant_auth_refusals", "Requests refused for their signature, key or policy since the start, by error code.", s.guard.samples)
	go s.reloadOnHangup(runCtx)
	serveErr := make(chan error, 1)
	go func() { serveErr <- listen.Serve(hs, ln, s.certs) }()
	s.log.Info("hydrant serving", "addr", s.addr, "data_dir", s.cfg.DataDir, "region", s.cfg.Region,
		"tls", s.certs != nil, "credentials", s.creds.Load().Len())
	close(s.ready)

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutCtx)
	stop()
	tasks.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) routes() http.Handler {
	h := api.NewHandler(api.ValidatorFunc(validator(s.cfg.HTTPEndpoint.AllowPlainHTTP)), s.log, api.WithBudget(s.budget), api.WithAuthorizer(auth.Authorize))
	s.api = h
	api.Handle(h, "CreateDeliveryStream", s.svc.CreateDeliveryStream)
	api.Handle(h, "DeleteDeliveryStream", s.svc.DeleteDeliveryStream)
	api.Handle(h, "DescribeDeliveryStream", s.svc.DescribeDeliveryStream)
	api.Handle(h, "ListDeliveryStreams", s.svc.ListDeliveryStreams)
	api.Handle(h, "UpdateDestination", s.svc.UpdateDestination)
	api.Handle(h, "TagDeliveryStream", s.svc.TagDeliveryStream)
	api.Handle(h, "UntagDeliveryStream", s.svc.UntagDeliveryStream)
	api.Handle(h, "ListTagsForDeliveryStream", s.svc.ListTagsForDeliveryStream)
	api.Handle(h, "StartDeliveryStreamEncryption", s.svc.StartDeliveryStreamEncryption)
	api.Handle(h, "StopDeliveryStreamEncryption", s.svc.StopDeliveryStreamEncryption)
	h.HandleBody("PutRecord", s.putRecord)
	h.HandleBody("PutRecordBatch", s.putRecordBatch)

	mux := http.NewServeMux()
	mux.Handle("POST /{$}", h)
	mux.HandleFunc("POST /_hydrant/flush", s.handleFlush)
	mux.Handle("GET /metrics", s.metrics)
	mux.Handle("/console/", console.New(consoleSource{s}, s.log.With("part", "console")))
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	mux.HandleFunc("GET /_hydrant/streams/{name}/delivery", s.handleDeliveryStatus)
	mux.HandleFunc("GET /_hydrant/streams/{name}/source", s.handleSourceStatus)
	mux.HandleFunc("GET /_hydrant/cluster", s.handleClusterStatus)
	mux.Handle("/_hydrant/streams/{name}/faults", s.faults)
	mux.HandleFunc("GET /_hydrant/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	// The CloudWatch read API shares the listener: JSON 1.0, query and CBOR requests are told
	// apart from Firehose's by the guard, before their bodies are read.
	cw := cloudwatch.NewHandler(cloudWatchSource{s.read}, s.log.With("part", "cloudwatch"),
		cloudwatch.WithAuthorizer(func(ctx context.Context, action string) error { return auth.Authorize(ctx, action, "") }))
	s.guard = &guard{
		creds: s.creds, region: s.cfg.Region, account: s.cfg.AccountID, now: s.now,
		firehose: mux, cw: cw, log: newLogLimiter(time.Second, func() time.Time { return s.now() }),
		logf: s.log.With("part", "auth").Warn, refusals: map[string]int64{},
	}
	return s.guard
}

// handleFlush delivers every buffered record now (of one stream with ?stream=NAME) and
// answers when the objects are written.
func (s *Server) handleFlush(w http.ResponseWriter, r *http.Request) {
	select { // every stream's delivery runs again after a start
	case <-s.resumed:
	case <-r.Context().Done():
		http.Error(w, "delivery not resumed yet", http.StatusServiceUnavailable)
		return
	}
	names := s.deliveries.Streams()
	if one := r.URL.Query().Get("stream"); one != "" {
		if s.forwardToOwner(w, r, one) {
			return
		}
		names = []string{one}
	}
	type result struct {
		Stream string `json:"stream"`
		Error  string `json:"error,omitempty"`
	}
	out := struct {
		Flushed []result `json:"flushed"`
	}{Flushed: []result{}}
	status := http.StatusOK
	for _, name := range names {
		res := result{Stream: name}
		if err := s.deliveries.Flush(r.Context(), name); err != nil {
			res.Error = err.Error()
			status = http.StatusInternalServerError
			if errors.Is(err, delivery.ErrNoWorker) {
				status = http.StatusNotFound
			}
		}
		out.Flushed = append(out.Flushed, res)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// handleDeliveryStatus reports a stream's delivery legs: buffered data, data freshness (the
// age of the oldest record not yet delivered), totals and the last error.
func (s *Server) handleDeliveryStatus(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.forwardToOwner(w, r, name) {
		return
	}
	legs, ok := s.deliveries.Status(name)
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "no delivery worker for stream " + name})
		return
	}
	type leg struct {
		delivery.LegStatus
		DataFreshnessSeconds float64 `json:"dataFreshnessSeconds"`
	}
	objects, failures := s.deliveries.Recent(name, 20)
	out := struct {
		Stream   string                   `json:"stream"`
		Legs     []leg                    `json:"legs"`
		Objects  []delivery.ObjectRecord  `json:"recentObjects"`
		Failures []delivery.FailureRecord `json:"recentFailures"`
	}{Stream: name, Legs: []leg{}, Objects: objects, Failures: failures}
	for _, l := range legs {
		out.Legs = append(out.Legs, leg{LegStatus: l, DataFreshnessSeconds: l.DataFreshness.Seconds()})
	}
	_ = json.NewEncoder(w).Encode(out)
}

// recover resumes every stream found in the catalog after a start: finishes transitions that
// a stop interrupted and restarts delivery of active streams. Delivery is resumed in the
// background, so that the API serves at once: puts need only the journal, and an active stream
// takes them before its delivery runs again.
func (s *Server) recover(ctx context.Context) error {
	var active []string
	for _, st := range s.cat.List() {
		switch api.DeliveryStreamStatus(st.Status) {
		case api.StatusCreating:
			s.svc.async(func(ctx context.Context) { s.svc.finishCreate(ctx, st) })
		case api.StatusDeleting:
			s.svc.async(func(ctx context.Context) { s.svc.finishDelete(ctx, st.Name) })
		case api.StatusActive:
			active = append(active, st.Name)
		}
		switch api.EncryptionStatus(st.Encryption.Status) {
		case api.EncryptionEnabling, api.EncryptionDisabling:
			_, err := s.cat.Update(ctx, st.Name, func(cur *catalog.Stream) error {
				if cur.Encryption.Status == string(api.EncryptionEnabling) {
					cur.Encryption.Status = string(api.EncryptionEnabled)
				} else if cur.Encryption.Status == string(api.EncryptionDisabling) {
					cur.Encryption.Status = string(api.EncryptionDisabled)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("finish encryption change of %s: %w", st.Name, err)
			}
		}
	}
	s.svc.async(func(ctx context.Context) { s.resumeDelivery(ctx, active) })
	return nil
}

// resumeDelivery starts the delivery of the named streams, reading each one's configuration
// again (it may have changed since the start); the delivery manager ignores a configuration
// older than the one it has.
func (s *Server) resumeDelivery(ctx context.Context, names []string) {
	defer close(s.resumed)
	start := s.now()
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		st, err := s.cat.Get(name)
		if err != nil || api.DeliveryStreamStatus(st.Status) != api.StatusActive {
			continue // deleted or changed meanwhile; its own transition handles it
		}
		if err := s.activate(ctx, st); err != nil {
			// The stream keeps its records in the journal; the error says why they wait.
			s.log.Error("resume delivery stream", "stream", st.Name, "err", err)
		}
	}
	s.log.Info("delivery resumed", "streams", len(names), "took", s.now().Sub(start))
}

// declareStreams creates the streams of the config file that do not exist yet.
func (s *Server) declareStreams(ctx context.Context) error {
	for i, raw := range s.cfg.Streams {
		if err := validator(s.cfg.HTTPEndpoint.AllowPlainHTTP)("CreateDeliveryStream", raw); err != nil {
			return fmt.Errorf("config streams[%d]: %w", i, err)
		}
		var in api.CreateDeliveryStreamInput
		if err := json.Unmarshal(raw, &in); err != nil {
			return fmt.Errorf("config streams[%d]: %w", i, err)
		}
		if _, err := s.cat.Get(in.DeliveryStreamName); err == nil {
			continue
		}
		if _, err := s.svc.CreateDeliveryStream(ctx, &in); err != nil {
			return fmt.Errorf("config streams[%d] (%s): %w", i, in.DeliveryStreamName, err)
		}
	}
	return nil
}

// servePprof serves the runtime profiles on their own listener and returns its stop function.
func servePprof(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for pprof on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info("pprof serving", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}
