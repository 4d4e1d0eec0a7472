// Package journal is Hydrant's durable record log: an embedded NATS JetStream server whose few
// shared streams (shards) hold every delivery stream's records on a subject of its own, a
// message per group of concurrent puts, every write synced to disk before the
// put is acknowledged, and a small key-value store for delivery cursors, flush intents and the
// catalog. The formats and the protocol are described in docs/design/journal.md.
package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors returned by the journal. They are wrapped with context; inspect them with errors.Is.
var (
	// ErrFull reports that the journal refused a write for lack of room: the stream reached its
	// MaxBytes, the store reached its limit or the disk is full, or the server refused the publish
	// because too many are pending. The API layer answers ServiceUnavailableException.
	ErrFull = errors.New("journal full")
	// ErrNoStream reports that no journal stream exists for a delivery stream name.
	ErrNoStream = errors.New("no such journal stream")
	// ErrTooLarge reports a put whose frame exceeds the largest message the journal stores.
	ErrTooLarge = errors.New("put too large for the journal")
	// ErrNotFound reports a missing key or message.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports that SaveState lost a compare-and-set: the state changed since it was
	// loaded, so another worker is writing it.
	ErrConflict = errors.New("worker state changed concurrently")
	// ErrBeyondCursor reports a Trim past the saved delivery cursor.
	ErrBeyondCursor = errors.New("trim beyond the delivery cursor")
	// ErrCorrupt reports a message that does not decode as a frame.
	ErrCorrupt = errors.New("corrupt journal message")
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultRetention         = 24 * time.Hour
	DefaultMaxBytesPerStream = -1
	DefaultMaxMessageBytes   = 8 << 20
	DefaultReadAheadBytes    = 32 << 20
	DefaultPublishTimeout    = 30 * time.Second
	// DefaultClusterPublishTimeout is a cluster node's default: a stream's puts wait for the
	// message before theirs, so a publish to a leader that was just cut off must fail (outcome
	// unknown, the client retries) well before a client's own timeout.
	DefaultClusterPublishTimeout = 10 * time.Second
	DefaultIngestQueueBytes      = 128 << 20
)

// stateBucket is the KV bucket holding delivery cursors and flush intents.
const stateBucket = "hydrant_delivery"

// Config configures the journal. Zero fields take the defaults listed in docs/design/journal.md.
type Config struct {
	// Dir is the directory of the JetStream file store, e.g. "<data dir>/journal". Required.
	Dir string `json:"dir"`
	// Listen, when set, is a host:port on which the embedded server accepts NATS clients; port 0
	// picks a free port (see ClientURL). Empty means no listener at all.
	Listen string `json:"listen,omitempty"`
	// Retention is how long a message is kept, settled or not (stream MaxAge).
	Retention time.Duration `json:"retention,omitempty"`
	// MaxBytesPerStream bounds each stream; a full stream refuses new puts. -1 (the default)
	// means bounded only by the store. A bound is reserved from the store when the stream is
	// created, so the sum over all streams cannot exceed MaxStoreBytes (75% of the free disk
	// by default); CreateStream fails with ErrFull beyond that.
	MaxBytesPerStream int64 `json:"maxBytesPerStream,omitempty"`
	// MaxMessageBytes is the largest message (one framed put) the server accepts.
	MaxMessageBytes int `json:"maxMessageBytes,omitempty"`
	// ReadAheadBytes bounds how many bytes a Reader pulls ahead of Next.
	ReadAheadBytes int `json:"readAheadBytes,omitempty"`
	// MaxStoreBytes bounds the whole store: records, worker state and catalog. -1 or 0 means
	// no bound but the file system. Either way record appends are refused (ErrFull) before the
	// store or the file system leaves less than ReservedBytes, which only state writes use.
	MaxStoreBytes int64 `json:"maxStoreBytes,omitempty"`
	// ReservedBytes is the room kept for worker state, intents and the catalog, so that
	// delivery can save its progress and trim a full journal. 0 means an eighth of
	// MaxStoreBytes (or of the file system) and at most 64 MiB.
	ReservedBytes int64 `json:"reservedBytes,omitempty"`
	// IngestQueueBytes bounds the bytes of publishes queued for one stream and not yet stored;
	// beyond it the server refuses publishes (429, ErrFull).
	IngestQueueBytes int64 `json:"ingestQueueBytes,omitempty"`
	// KeepDelivered makes Trim a no-op, so settled messages stay until retention removes them.
	KeepDelivered bool `json:"keepDelivered,omitempty"`
	// PublishTimeout bounds a publish or API call whose context has no deadline.
	PublishTimeout time.Duration `json:"publishTimeout,omitempty"`
	// ReaderIdle is how long a Reader keeps its JetStream consumer without a message before
	// it parks (docs/design/journal.md, "Reading").
	ReaderIdle time.Duration `json:"readerIdle,omitempty"`
	// Shards is the number of shared JetStream streams that hold the records of delivery
	// streams (docs/design/journal.md, "Layout"); each syncs to disk on its own.
	Shards int `json:"shards,omitempty"`
	// Cluster, when its Routes are set, joins the embedded server to a JetStream cluster of
	// Hydrant nodes (docs/design/cluster.md).
	Cluster ClusterConfig `json:"cluster,omitzero"`
	// Budget, when set, is the process's memory budget: a Reader holds its read-ahead from it
	// while it has a consumer open (docs/design/memory.md). Nil means no bound.
	Budget Budget `json:"-"`
}

// ClusterConfig places the journal's server in a cluster of Hydrant nodes.
type ClusterConfig struct {
	// Node is this node's name, unique in the cluster (the server name).
	Node string `json:"node,omitempty"`
	// Listen is the host:port on which the server accepts the other nodes' routes.
	Listen string `json:"listen,omitempty"`
	// Routes are the nats://host:port route URLs of the cluster's nodes (this one's may be
	// among them). None: a single node.
	Routes []string `json:"routes,omitempty"`
	// Replicas is the copies of every stream and bucket: default 3 with 3 or more routes,
	// else the number of routes; 1 to 5.
	Replicas int `json:"replicas,omitempty"`
	// Wait bounds how long Open waits for the cluster to place its assets (default 60 s).
	Wait time.Duration `json:"wait,omitempty"`
	// URL, instead of Listen and Routes, makes the journal a client of an existing NATS
	// JetStream deployment (comma-separated nats:// or tls:// URLs, credentials in the URL):
	// no server is embedded and nothing is stored under Dir (docs/design/cluster.md,
	// "An existing NATS").
	URL string `json:"url,omitempty"`
}

// Clustered reports whether c joins a cluster: of embedded servers (Routes) or through an
// existing NATS (URL).
func (c ClusterConfig) Clustered() bool { return len(c.Routes) > 0 || c.URL != "" }

// External reports whether the journal uses an existing NATS instead of an embedded server.
func (c ClusterConfig) External() bool { return c.URL != "" }

// DefaultClusterWait bounds Open's wait for a cluster's peers.
const DefaultClusterWait = 60 * time.Second

// clusterName is the NATS cluster every Hydrant node joins.
const clusterName = "hydrant"

// Budget is the memory budget Readers draw their read-ahead from.
type Budget interface {
	// TryAcquireShared takes n bytes if they fit under the part of the budget that long-lived
	// holders may use, and reports whether it did; it never blocks.
	TryAcquireShared(n int64) bool
	// Release gives back n bytes taken with TryAcquireShared.
	Release(n int64)
	// Freed returns a channel closed at the next Release.
	Freed() <-chan struct{}
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.MaxBytesPerStream == 0 {
		c.MaxBytesPerStream = DefaultMaxBytesPerStream
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.ReadAheadBytes == 0 {
		c.ReadAheadBytes = DefaultReadAheadBytes
	}
	if c.MaxStoreBytes == 0 {
		c.MaxStoreBytes = -1
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
		if c.Cluster.Clustered() {
			c.PublishTimeout = DefaultClusterPublishTimeout
		}
	}
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.ReaderIdle == 0 {
		c.ReaderIdle = DefaultReaderIdle
	}
	if c.IngestQueueBytes == 0 {
		c.IngestQueueBytes = DefaultIngestQueueBytes
	}
	if c.Cluster.Clustered() {
		if c.Cluster.Replicas == 0 {
			c.Cluster.Replicas = 3 // an existing NATS: as in a cluster of three or more
			if !c.Cluster.External() {
				c.Cluster.Replicas = min(len(c.Cluster.Routes), 3)
			}
		}
		if c.Cluster.Wait == 0 {
			c.Cluster.Wait = DefaultClusterWait
		}
	} else if c.Cluster.Replicas == 0 {
		c.Cluster.Replicas = 1
	}
	return c
}

// replicas is the number of copies of every JetStream asset.
func (j *Journal) replicas() int { return j.cfg.Cluster.Replicas }

// Validate reports the first field of c that is out of bounds. Call it on WithDefaults().
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("journal: dir is required")
	case c.Retention < time.Minute:
		return fmt.Errorf("journal: retention must be at least 1m, got %s", c.Retention)
	case c.MaxMessageBytes < 1<<20 || c.MaxMessageBytes > 64<<20:
		return fmt.Errorf("journal: maxMessageBytes must be between 1 MiB and 64 MiB, got %d", c.MaxMessageBytes)
	case c.MaxBytesPerStream != -1 && c.MaxBytesPerStream < int64(c.MaxMessageBytes):
		return fmt.Errorf("journal: maxBytesPerStream must be -1 or at least maxMessageBytes (%d), got %d", c.MaxMessageBytes, c.MaxBytesPerStream)
	case c.ReadAheadBytes < c.MaxMessageBytes:
		return fmt.Errorf("journal: readAheadBytes must be at least maxMessageBytes (%d), got %d", c.MaxMessageBytes, c.ReadAheadBytes)
	case c.MaxStoreBytes != -1 && c.MaxStoreBytes <= 0:
		return fmt.Errorf("journal: maxStoreBytes must be -1 or positive, got %d", c.MaxStoreBytes)
	case c.ReservedBytes < 0:
		return fmt.Errorf("journal: reservedBytes must be 0 (the default) or positive, got %d", c.ReservedBytes)
	case c.MaxStoreBytes > 0 && c.ReservedBytes >= c.MaxStoreBytes:
		return fmt.Errorf("journal: reservedBytes must be less than maxStoreBytes (%d), got %d", c.MaxStoreBytes, c.ReservedBytes)
	case c.IngestQueueBytes < int64(c.MaxMessageBytes):
		return fmt.Errorf("journal: ingestQueueBytes must be at least maxMessageBytes (%d), got %d", c.MaxMessageBytes, c.IngestQueueBytes)
	case c.ReaderIdle < 0:
		return fmt.Errorf("journal: readerIdle must not be negative, got %s", c.ReaderIdle)
	case c.Shards < 1 || c.Shards > 256:
		return fmt.Errorf("journal: shards must be between 1 and 256, got %d", c.Shards)
	case c.PublishTimeout <= 0:
		return fmt.Errorf("journal: publishTimeout must be positive, got %s", c.PublishTimeout)
	}
	if c.Listen != "" {
		if _, _, err := splitListen(c.Listen); err != nil {
			return fmt.Errorf("journal: listen must be host:port: %w", err)
		}
	}
	return c.Cluster.validate()
}

func (c ClusterConfig) validate() error {
	if !c.Clustered() {
		if c.Replicas > 1 {
			return fmt.Errorf("journal: replicas %d needs cluster routes", c.Replicas)
		}
		return nil
	}
	switch {
	case c.Node == "":
		return errors.New("journal: a cluster node needs a node name")
	case !nodeName.MatchString(c.Node):
		return fmt.Errorf("journal: node name %q: use letters, digits, '-' and '_' (at most 64)", c.Node)
	case c.External() && (c.Listen != "" || len(c.Routes) > 0):
		return errors.New("journal: a NATS URL replaces the cluster listen address and routes; give one or the other")
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("journal: replicas must be between 1 and 5, got %d", c.Replicas)
	case c.Wait <= 0:
		return fmt.Errorf("journal: cluster wait must be positive, got %s", c.Wait)
	case c.External():
		for _, raw := range strings.Split(c.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
				return fmt.Errorf("journal: NATS URL %q: want nats://host:port or tls://host:port", raw)
			}
		}
		return nil
	case c.Listen == "":
		return errors.New("journal: a cluster node needs a cluster listen address")
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("journal: replicas must be between 1 and 5, got %d", c.Replicas)
	case c.Wait <= 0:
		return fmt.Errorf("journal: cluster wait must be positive, got %s", c.Wait)
	}
	if _, _, err := splitListen(c.Listen); err != nil {
		return fmt.Errorf("journal: cluster listen must be host:port: %w", err)
	}
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "nats" || u.Port() == "" {
			return fmt.Errorf("journal: route %q: want nats://host:port", r)
		}
	}
	return nil
}

var nodeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func splitListen(s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return host, p, nil
}

// Journal is the durable record log. It is safe for concurrent use.
type Journal struct {
	cfg   Config
	log   *slog.Logger
	ns    *server.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	state jetstream.KeyValue
	// registry says where each delivery stream's records live (shard.go).
	registry jetstream.KeyValue
	frames   sync.Pool // *[]byte frame buffers of the committers' publishers
	commits  commits   // group commit per delivery stream (commit.go)
	space    *space    // admission of record appends (space.go)

	mu      sync.Mutex
	streams map[string]streamRef // by delivery stream name
	forgets uint64               // streams forgotten so far (see ref)
	// lasts is what Trim knows of each stream's last message: whether it carries a source
	// position, which Trim never removes (positioned.go).
	lasts   map[string]lastMessage
	watches map[string]chan struct{} // parked readers' wake-ups, by delivery stream name (lazy.go)
	// callbacks are the AfterAppend functions waiting, by delivery stream name (lazy.go).
	callbacks map[string][]*afterAppend

	closeOnce sync.Once
	closed    chan struct{} // closed when the connection is closed
}

// Open starts the embedded JetStream server on cfg.Dir and connects to it in-process.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Journal, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Cluster.External() {
		return openExternal(ctx, cfg, log)
	}
	if err := prepareDir(cfg.Dir); err != nil {
		return nil, err
	}
	space, maxStore := newSpace(cfg, statFS, time.Now)
	opts := &server.Options{
		ServerName:        serverName(cfg.Cluster),
		JetStream:         true,
		StoreDir:          cfg.Dir,
		JetStreamMaxStore: maxStore,
		SyncAlways:        true,
		MaxPayload:        int32(cfg.MaxMessageBytes),
		DontListen:        cfg.Listen == "",
		NoSigs:            true,

		StreamMaxBufferedSize: cfg.IngestQueueBytes,
	}
	if cfg.Listen != "" {
		opts.Host, opts.Port, _ = splitListen(cfg.Listen)
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT // the server reads 0 as its default, 4222
		}
	}
	if cfg.Cluster.Clustered() {
		host, port, _ := splitListen(cfg.Cluster.Listen)
		opts.Cluster = server.ClusterOpts{Name: clusterName, Host: host, Port: port}
		opts.Routes = server.RoutesFromStr(strings.Join(cfg.Cluster.Routes, ","))
		if opts.DontListen {
			// DontListen would keep the route listener closed too: the client listener takes a
			// random loopback port instead, used by nothing but the server itself.
			opts.DontListen = false
			opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start journal server: %w", err)
	}
	fatal := make(chan string, 1)
	ns.SetLoggerV2(serverLog{log: log, fatal: fatal}, false, false, false)
	if err := startServer(ctx, ns, fatal, readyTimeout); err != nil {
		return nil, err
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		return nil, errors.New("start journal server: jetstream did not start (see the server log)")
	}
	j := newJournal(cfg, log, space)
	j.ns = ns
	space.start(func() int64 { return int64(ns.GlobalAccount().JetStreamUsage().Store) })
	j.nc, err = nats.Connect("", append(j.connectOptions(), nats.InProcessServer(ns))...)
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("connect to journal server: %w", err)
	}
	if err := j.open(ctx); err != nil {
		return nil, err
	}
	return j, nil
}

// newJournal returns a journal of cfg, not yet connected.
func newJournal(cfg Config, log *slog.Logger, space *space) *Journal {
	j := &Journal{
		cfg:       cfg,
		log:       log,
		space:     space,
		streams:   make(map[string]streamRef),
		watches:   make(map[string]chan struct{}),
		callbacks: make(map[string][]*afterAppend),
		closed:    make(chan struct{}),
	}
	j.frames.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	return j
}

// connectOptions are the options of the journal's connection, to its embedded server or to an
// existing NATS.
func (j *Journal) connectOptions() []nats.Option {
	return []nats.Option{
		nats.Name("hydrant-journal " + j.Node()),
		nats.ClosedHandler(func(*nats.Conn) { close(j.closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			j.log.Warn("journal client error", "err", err)
		}),
	}
}

// open creates the journal's assets over its connection; on error the journal is closed.
func (j *Journal) open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	cfg := j.cfg
	j.js, err = jetstream.New(j.nc, jetstream.WithDefaultTimeout(cfg.PublishTimeout))
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	err = j.placed(ctx, "bucket "+stateBucket, func(ctx context.Context) error {
		var err error
		j.state, err = j.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      stateBucket,
			Description: "hydrant delivery cursors and flush intents",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    j.replicas(),
		})
		return err
	})
	if err != nil {
		return err
	}
	if err := j.openShards(ctx); err != nil {
		return err
	}
	if err := j.listenWakes(); err != nil {
		return fmt.Errorf("listen for other nodes' appends: %w", err)
	}
	return nil
}

// readyTimeout bounds how long Open waits for the embedded server to accept connections once it
// has started without reporting an error.
const readyTimeout = 30 * time.Second

// prepareDir creates the store directory and proves it writable, so that an unusable directory
// fails Open at once with the path and the system error rather than as a server that never
// becomes ready.
func prepareDir(dir string) error {
	// The server keeps its store in a "jetstream" directory under the one it is given, unless
	// that one already ends in it; that is the directory that must be usable.
	store := dir
	if !strings.HasSuffix(store, server.JetStreamStoreDir) {
		store = filepath.Join(dir, server.JetStreamStoreDir)
	}
	if err := os.MkdirAll(store, 0o755); err != nil {
		return fmt.Errorf("journal directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(store, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("journal directory %s is not writable: %w", store, err)
	}
	name := f.Name()
	err = f.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("journal directory %s is not writable: %w", store, err)
	}
	return nil
}

// startServer starts ns and waits until it accepts connections, the server reports a fatal
// startup error (returned as the error), ctx ends (ctx.Err() is returned) or timeout passes.
// On error the server is shut down.
func startServer(ctx context.Context, ns *server.Server, fatal <-chan string, timeout time.Duration) error {
	started := make(chan struct{})
	go func() {
		defer close(started)
		ns.Start() // synchronous up to the JetStream recovery; listeners start in the background
	}()
	fail := func(err error) error {
		ns.Shutdown()
		// Start may still be recovering the store; give it a moment to notice the shutdown, but
		// do not hold up a process that was asked to stop.
		select {
		case <-started:
			ns.WaitForShutdown()
		case <-time.After(2 * time.Second):
		}
		return err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case msg := <-fatal:
			return fail(fmt.Errorf("start journal server: %s", msg))
		case <-ctx.Done():
			return fail(fmt.Errorf("start journal server: %w", ctx.Err()))
		case <-deadline.C:
			return fail(fmt.Errorf("start journal server: not ready after %s", timeout))
		case <-tick.C:
		}
		select {
		case <-started:
		default:
			continue
		}
		select {
		case msg := <-fatal: // Start reports its failures before it returns
			return fail(fmt.Errorf("start journal server: %s", msg))
		default:
		}
		if ns.ReadyForConnections(time.Millisecond) {
			return nil
		}
	}
}

// Close drains the connection and shuts the embedded server down. It waits for the server to
// stop, so the store can be reopened afterwards. Close is safe to call more than once.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.closeCommits()
		if j.nc != nil {
			if err := j.nc.Drain(); err != nil {
				j.nc.Close()
			}
			select {
			case <-j.closed:
			case <-time.After(10 * time.Second):
				j.log.Warn("journal drain timed out")
				j.nc.Close()
			}
		}
		j.waitCommits() // their publishes fail fast on the closed connection
		if j.ns != nil {
			j.ns.Shutdown()
			j.ns.WaitForShutdown()
		}
	})
	return nil
}

// ClientURL returns the URL on which the embedded server listens, or "" without Config.Listen.
func (j *Journal) ClientURL() string {
	if j.cfg.Listen == "" || j.ns == nil {
		return ""
	}
	return j.ns.ClientURL()
}

// serverLog routes the embedded server's log to slog: warnings and errors as such, notices at
// debug level, debug and trace lines not at all.
// A fatal message is also offered to the fatal channel, if any, so that Open can return it.
type serverLog struct {
	log   *slog.Logger
	fatal chan<- string
}

func (l serverLog) Noticef(format string, v ...any) {
	l.log.Debug("journal server notice", "detail", fmt.Sprintf(format, v...))
}

func (l serverLog) Warnf(format string, v ...any) {
	l.log.Warn("journal server warning", "detail", fmt.Sprintf(format, v...))
}

func (l serverLog) Errorf(format string, v ...any) {
	l.log.Error("journal server error", "detail", fmt.Sprintf(format, v...))
}

func (l serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error("journal server fatal", "detail", msg)
	select {
	case l.fatal <- msg:
	default: // the first fatal message is the cause; or no one is listening
	}
}

func (l serverLog) Debugf(string, ...any) {}

func (l serverLog) Tracef(string, ...any) {}

var _ server.Logger = serverLog{}
